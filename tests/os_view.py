"""`os` as one module under test sees it: how a test injects a fault into that module alone."""


class OsView:
    """`os` with some functions replaced and the rest read through: `OsView(os, rename=...)`.

    Set as a module's own `os` (`monkeypatch.setattr(module, "os", OsView(...))`), it changes
    what that module calls and nothing else: pytest, pyfakefs and the rest still use `os`.
    """

    def __init__(self, real: object, **replacements: object) -> None:
        self._real = real
        for name, replacement in replacements.items():
            setattr(self, name, replacement)

    def __getattr__(self, name: str) -> object:
        return getattr(self._real, name)
