"""
===========================================
Serving a skfavor pipeline with onnxruntime
===========================================

A fitted scikit-learn pipeline that contains skfavor estimators is exported
to ONNX with skl2onnx, once :mod:`skfavor.integrations.onnx` is imported (it
registers the converters), and served with onnxruntime, without scikit-learn
or skfavor on the serving side. We fit a regression and a classification
pipeline, export both in float32, and compare onnxruntime's predictions
with scikit-learn's on held-out rows (see :ref:`deploy`).
"""

# %%
# Fit
# ---
# A standardisation, SDERF features and a ridge model streamed from their
# statistics; the classifier uses a Nadaraya–Watson vote on GERF features.

import matplotlib.pyplot as plt
import numpy as np
import onnxruntime
import skl2onnx
from sklearn.datasets import make_friedman1, make_moons
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skfavor.integrations.onnx  # noqa: F401  (registers the converters)
from skfavor import DERFSampler, GERFSampler, RandomFeatureRidge
from skfavor.nadaraya_watson import NadarayaWatsonClassifier

X, y = make_friedman1(n_samples=6000, noise=0.5, random_state=0)
X = X.astype(np.float32)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
regression = make_pipeline(
    StandardScaler(),
    RandomFeatureRidge(
        DERFSampler(n_components=512, gamma=0.1, random_state=0), alpha=1e-3
    ),
).fit(X_train, y_train)
print(f"test R² of the pipeline: {regression.score(X_test, y_test):.3f}")

# %%
# Export and serve
# ----------------
# ``to_onnx`` takes one row to fix the input's type (float32 here) and
# width. The session needs onnxruntime alone.

onx = skl2onnx.to_onnx(regression, X_train[:1])
session = onnxruntime.InferenceSession(
    onx.SerializeToString(), providers=["CPUExecutionProvider"]
)
input_name = session.get_inputs()[0].name
(served,) = session.run(None, {input_name: X_test})
expected = regression.predict(X_test)
error = np.abs(served.ravel() - expected).max() / np.abs(expected).max()
print(f"graph of {len(onx.graph.node)} nodes, {len(onx.SerializeToString())} bytes")
print(f"largest difference, relative to the largest prediction: {error:.1e}")

# %%
# A classifier
# ------------
# Classifiers give two outputs, the labels and one score per class (here each
# class's share of the estimated kernel weight); ``zipmap=False`` keeps the
# scores a tensor instead of skl2onnx's default list of dictionaries.

X_moons, y_moons = make_moons(n_samples=2000, noise=0.3, random_state=0)
X_moons = X_moons.astype(np.float32)
Xm_train, Xm_test, ym_train, ym_test = train_test_split(
    X_moons, y_moons, random_state=0
)
classifier = make_pipeline(
    StandardScaler(),
    NadarayaWatsonClassifier(GERFSampler(n_components=64, gamma=4.0, random_state=0)),
).fit(Xm_train, ym_train)
onx = skl2onnx.to_onnx(classifier, Xm_train[:1], options={"zipmap": False})
session = onnxruntime.InferenceSession(
    onx.SerializeToString(), providers=["CPUExecutionProvider"]
)
labels, shares = session.run(None, {session.get_inputs()[0].name: Xm_test})
same = np.mean(labels == classifier.predict(Xm_test))
accuracy = np.mean(labels == ym_test)
print(f"labels equal to predict's: {same:.0%}; test accuracy {accuracy:.3f}")

# %%
# Compare
# -------
# The served predictions lie on scikit-learn's: the graph evaluates the same
# feature map, center shift first, in the same dtype.

fig, axes = plt.subplots(1, 2, figsize=(9, 4))
axes[0].scatter(expected, served.ravel(), s=4)
axes[0].set(
    xlabel="scikit-learn predict",
    ylabel="onnxruntime",
    title="RandomFeatureRidge (float32)",
)
axes[1].scatter(*Xm_test.T, c=shares[:, 1], s=6, cmap="coolwarm")
axes[1].set(title="Nadaraya–Watson: served class-1 share")
fig.tight_layout()
plt.show()
