"""``chainrule.optim``: optimisers and learning-rate schedules, as ``torch.optim``.

>>> import chainrule as cr
>>> w = cr.zeros(3, requires_grad=True)
>>> opt = cr.optim.Adam([w], lr=1e-2)
>>> sched = cr.optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.5)
"""

from ..nn import utils as _nn_utils  # makes chainrule.nn.utils (gradient clipping) reachable
from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .newton import Newton
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Newton", "Optimizer", "RMSprop", "lr_scheduler"]
