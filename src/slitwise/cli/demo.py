"""``slitwise demo``: under construction."""


def add_parser(sub):
    p = sub.add_parser("demo", help="demo (under construction)")
    p.set_defaults(func=lambda args: 1)
    return p
