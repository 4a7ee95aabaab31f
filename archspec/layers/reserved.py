"""Names a submodule cannot take, written out so that checking a spec needs no torch.

A name in a spec becomes an attribute of the module it is a child of: a section of the model, a
named layer of an nn.Sequential, a body layer of a compiled Residual, a branch of a Parallel.
torch refuses a child named like an attribute the module already has (`training`, `append`),
and a child named like an attribute the compiler sets afterwards (`keep_input`) breaks the
build; a child named like one the compiler adds itself (a Residual's `downsample`) would be
silently replaced. Tests keep these lists equal to dir() of the real modules.
"""

from __future__ import annotations

MODULE_ATTRIBUTES = frozenset(
    {
        "T_destination",
        "__annotations__",
        "__call__",
        "__class__",
        "__delattr__",
        "__dict__",
        "__dir__",
        "__doc__",
        "__eq__",
        "__format__",
        "__ge__",
        "__getattr__",
        "__getattribute__",
        "__getstate__",
        "__gt__",
        "__hash__",
        "__init__",
        "__init_subclass__",
        "__le__",
        "__lt__",
        "__module__",
        "__ne__",
        "__new__",
        "__reduce__",
        "__reduce_ex__",
        "__repr__",
        "__setattr__",
        "__setstate__",
        "__sizeof__",
        "__str__",
        "__subclasshook__",
        "__weakref__",
        "_apply",
        "_call_impl",
        "_compiled_call_impl",
        "_get_backward_hooks",
        "_get_backward_pre_hooks",
        "_get_name",
        "_load_from_state_dict",
        "_maybe_warn_non_full_backward_hook",
        "_named_members",
        "_register_load_state_dict_pre_hook",
        "_register_state_dict_hook",
        "_replicate_for_data_parallel",
        "_save_to_state_dict",
        "_slow_forward",
        "_version",
        "_wrapped_call_impl",
        "add_module",
        "apply",
        "bfloat16",
        "buffers",
        "call_super_init",
        "children",
        "compile",
        "cpu",
        "cuda",
        "double",
        "dump_patches",
        "eval",
        "extra_repr",
        "float",
        "forward",
        "get_buffer",
        "get_extra_state",
        "get_parameter",
        "get_submodule",
        "half",
        "ipu",
        "load_state_dict",
        "modules",
        "mtia",
        "named_buffers",
        "named_children",
        "named_modules",
        "named_parameters",
        "parameters",
        "register_backward_hook",
        "register_buffer",
        "register_forward_hook",
        "register_forward_pre_hook",
        "register_full_backward_hook",
        "register_full_backward_pre_hook",
        "register_load_state_dict_post_hook",
        "register_load_state_dict_pre_hook",
        "register_module",
        "register_parameter",
        "register_state_dict_post_hook",
        "register_state_dict_pre_hook",
        "requires_grad_",
        "set_extra_state",
        "set_submodule",
        "share_memory",
        "state_dict",
        "to",
        "to_empty",
        "train",
        "type",
        "xpu",
        "zero_grad",
    }
)

# Set on every instance by nn.Module.__init__, so absent from dir(torch.nn.Module).
INSTANCE_ATTRIBUTES = frozenset(
    {
        "_backward_hooks",
        "_backward_pre_hooks",
        "_buffers",
        "_forward_hooks",
        "_forward_hooks_always_called",
        "_forward_hooks_with_kwargs",
        "_forward_pre_hooks",
        "_forward_pre_hooks_with_kwargs",
        "_is_full_backward_hook",
        "_load_state_dict_post_hooks",
        "_load_state_dict_pre_hooks",
        "_modules",
        "_non_persistent_buffers_set",
        "_parameters",
        "_state_dict_hooks",
        "_state_dict_pre_hooks",
        "training",
    }
)

# nn.Sequential's own methods; a named layer of a list or mapping of layers is its child.
SEQUENTIAL_ATTRIBUTES = frozenset(
    {
        "__add__",
        "__delitem__",
        "__getitem__",
        "__iadd__",
        "__imul__",
        "__iter__",
        "__len__",
        "__mul__",
        "__rmul__",
        "__setitem__",
        "_get_item_by_idx",
        "append",
        "extend",
        "insert",
        "pop",
    }
)

# What archspec.compiler's modules keep beside their children.
BLOCK_ATTRIBUTES = frozenset({"class_name"})  # a Sequential printed under a block's name
MODEL_ATTRIBUTES = frozenset({"flatten_before", "learned", "section_names", "spec_name"})
RESIDUAL_ATTRIBUTES = frozenset(
    {"after_names", "body_names", "class_name", "has_downsample", "keep_input"}
)
PARALLEL_ATTRIBUTES = frozenset({"class_name", "keep_input", "merge", "split"})
# A module whose children do not each run once in order (a flat Parallel, a block with an
# inline structure) keeps the order they run in as `program`; any of them may hold names.
PROGRAM_ATTRIBUTES = frozenset({"class_name", "program"})

SHORTCUT = "downsample"  # the child a Residual's shortcut becomes (torchvision's name)

# What a name written in a spec becomes a child of.
SECTION, LAYER, RESIDUAL, BRANCH = "section", "layer", "residual", "branch"
_OWN = {
    SECTION: ("the model", MODEL_ATTRIBUTES),
    LAYER: ("a block", BLOCK_ATTRIBUTES),
    RESIDUAL: ("a Residual", RESIDUAL_ATTRIBUTES),
    BRANCH: ("a Parallel", PARALLEL_ATTRIBUTES),
}


def name_clash(name: str, role: str) -> str | None:
    """Why `name` cannot name a child in `role` (SECTION, LAYER, RESIDUAL, BRANCH), or None."""
    if name in MODULE_ATTRIBUTES or name in INSTANCE_ATTRIBUTES:
        return f"every torch.nn.Module has an attribute '{name}'"
    if role == LAYER and name in SEQUENTIAL_ATTRIBUTES:
        return f"nn.Sequential, which holds these layers, has a method '{name}'"
    if role == RESIDUAL and name == SHORTCUT:
        return "it is the name a Residual gives its shortcut (the 1x1 conv of shortcut: auto)"
    owner, own = _OWN[role]
    if role != SECTION and name in PROGRAM_ATTRIBUTES - own:
        return f"a module whose layers are named through its branches keeps its own '{name}'"
    if name in own:
        return f"the module {owner} compiles to keeps its own '{name}' attribute"
    return None


def free_name(name: str, role: str) -> str:
    """`name` with underscores added until it clashes with nothing: what a fix suggests."""
    while name_clash(name, role) is not None:
        name += "_"
    return name
