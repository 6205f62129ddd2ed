"""``slitwise config show CONFIG`` / ``slitwise config defaults``."""

from __future__ import annotations

__all__ = ["add_parser"]


def add_parser(sub):
    p = sub.add_parser("config", help="show a resolved pipeline configuration or the defaults")
    csub = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    show = csub.add_parser("show", help="print the resolved configuration of a TOML file")
    show.add_argument("config", help="TOML configuration file")
    show.set_defaults(func=_show)
    defaults = csub.add_parser("defaults", help="print every option with its default and doc")
    defaults.set_defaults(func=_defaults)
    return p


def _show(args) -> int:
    from slitwise.pipeline.config import config_to_toml, load_config

    print(config_to_toml(load_config(args.config)))
    return 0


def _defaults(args) -> int:
    from slitwise.pipeline.config import PipelineConfig, config_to_toml

    print(config_to_toml(PipelineConfig(), with_docs=True))
    return 0
