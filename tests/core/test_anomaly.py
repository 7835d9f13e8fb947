"""detect_anomaly names the first op whose forward or backward made a NaN or Inf."""

import pytest

import chainrule as cr
from chainrule.errors import NumericalError


def test_forward_nan_names_op_shapes_and_user_line():
    x = cr.tensor([-1.0, 4.0], requires_grad=True)
    with cr.detect_anomaly():
        with pytest.raises(NumericalError) as e:
            x.log()  # this line should be named in the message
    msg = str(e.value)
    assert "'log'" in msg and "(2,)" in msg and "test_anomaly.py" in msg


def test_backward_inf_names_op():
    x = cr.tensor([0.0, 4.0], requires_grad=True)
    with cr.detect_anomaly():
        y = x.sqrt().sum()  # finite forward, infinite derivative at 0
        with pytest.raises(NumericalError, match="backward of op 'sqrt'") as e:
            y.backward()
    assert "test_anomaly.py" in str(e.value)


def test_off_by_default_and_decorator():
    x = cr.tensor([-1.0])
    assert cr.isnan(x.log()).item()

    @cr.detect_anomaly()
    def f():
        return cr.tensor([-1.0]).log()

    with pytest.raises(NumericalError):
        f()
    assert cr.isnan(x.log()).item()
