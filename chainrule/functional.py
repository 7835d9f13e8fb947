"""``chainrule.functional``: an alias of :mod:`chainrule.nn.functional`."""

from .nn.functional import *  # noqa: F401,F403
