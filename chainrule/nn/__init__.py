"""``chainrule.nn``: modules, layers, initialisation, losses and regularisers."""

from .module import Module, count_parameters
from .parameter import Parameter
