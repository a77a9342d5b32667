"""Writing one training update into a model (SPEC.md §3 learners; used by ``estimators.fit`` and
by :meth:`estimators.Objective.update`).

A model's parameters and the objective's own parameters (NCE's ``c``, under the names
``"objective." + name``) are updated together; a refused or interrupted update restores the old
values, so the model always holds the last *completed* update.
"""

import numpy as np

from pgm.errors import ModelError

from .optimizers import SGD, Adam

__all__ = ["param_view", "apply_update", "check_finite", "fresh_results"]

_OWN = "objective."


def fresh_results(optimizer):
    """Does ``optimizer.step`` return fresh arrays and keep no reference to the gradients (the
    built-in SGD and Adam), so that an update may hand both over without copies?"""
    return type(optimizer) in (SGD, Adam)


def param_view(model, objective):
    out = dict(model.params)
    out.update({_OWN + k: v for k, v in objective.own_params.items()})
    return out


def _split(values):
    mine = {k: v for k, v in values.items() if not k.startswith(_OWN)}
    own = {k[len(_OWN):]: v for k, v in values.items() if k.startswith(_OWN)}
    return mine, own


def apply_update(model, objective, new, where, owned=False, finite=()):
    """Write new parameters; restore the old ones if this is interrupted or refused.

    ``owned``: ``new`` holds fresh arrays nobody else references (the built-in optimisers'
    results), which a model with ``_take_params`` may keep without copying (``finite``: names of
    arrays of ``new`` already checked to be finite, passed on to it).  A model whose
    ``set_params`` rebinds arrays (``_set_params_rebinds``) is restored from its old arrays
    themselves rather than from copies."""
    mine, own = _split(new)
    rebinds = getattr(model, "_set_params_rebinds", False)
    old = {k: v if rebinds else np.array(v, copy=True) for k, v in model.params.items()}
    old_own = {k: np.array(v, copy=True) for k, v in objective.own_params.items()}
    take = owned and rebinds and hasattr(model, "_take_params")
    try:
        if take and finite:
            model._take_params(_finite=finite, **mine)
        elif take:
            model._take_params(**mine)
        else:
            model.set_params(**mine)
        if own:
            objective.set_own_params(**own)
    except ModelError as exc:
        model.set_params(**old)
        objective.set_own_params(**old_own) if old_own else None
        raise ModelError(f"the update {where} gives invalid parameters ({exc}); "
                         "lower the learning rate") from exc
    except BaseException:
        model.set_params(**old)
        objective.set_own_params(**old_own) if old_own else None
        raise


#: a parameter larger than this in magnitude means training diverged (exp() of anything near it
#: overflows; no model is meaningful there)
PARAMETER_LIMIT = 1e100


def check_parameters(model, objective, where):
    """``FloatingPointError`` naming ``where`` when a parameter is non-finite or has diverged
    beyond :data:`PARAMETER_LIMIT` in magnitude (an update too large for the learning rate)."""
    for k, v in param_view(model, objective).items():
        v = np.asarray(v)
        if v.size and np.issubdtype(v.dtype, np.number):
            peak = float(np.max(np.abs(v)))
            if not peak <= PARAMETER_LIMIT:
                raise FloatingPointError(f"parameter {k!r} {where} reached |{k}| = {peak:.3g} "
                                         f"(> {PARAMETER_LIMIT:.0e}); training diverged (lower the learning rate)")


def check_finite(grads, where, stats=None):
    """``FloatingPointError`` naming ``where`` for a non-finite gradient or loss."""
    loss = (stats or {}).get("loss")
    if loss is not None and not np.isfinite(loss):
        raise FloatingPointError(f"the loss {where} is {float(loss)!r}; training diverged "
                                 "(lower the learning rate)")
    for k, g in grads.items():
        if not np.all(np.isfinite(g)):
            raise FloatingPointError(f"the gradient of {k!r} {where} is not finite; training diverged "
                                     "(lower the learning rate)")


