"""A helper module (no init_module) that kz_test_module imports by name."""


def greeting() -> str:
    return "hi from a helper"
