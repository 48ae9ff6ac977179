"""Docstring sections shared by several estimators."""


def fill_doc(**sections):
    """Class decorator replacing each ``{name}`` in the docstring by ``sections[name]``.

    Shared numpydoc sections (parameters, attributes) are written once and
    substituted, so that every class documents them identically.
    """

    def decorate(cls):
        for name, text in sections.items():
            cls.__doc__ = cls.__doc__.replace("{" + name + "}", text)
        return cls

    return decorate
