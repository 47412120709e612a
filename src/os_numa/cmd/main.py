"""The ``os-numa`` command line (placeholder until the CLI lands)."""


def main(argv=None) -> int:
    print("os-numa")
    return 0
