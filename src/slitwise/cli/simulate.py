"""``slitwise simulate``: under construction."""


def add_parser(sub):
    p = sub.add_parser("simulate", help="simulate (under construction)")
    p.set_defaults(func=lambda args: 1)
    return p
