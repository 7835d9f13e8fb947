"""``chainrule.nn``: modules, layers, initialisation, losses and regularisers."""

from .module import Module, count_parameters
from .parameter import Parameter
from .recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase
