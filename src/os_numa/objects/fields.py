"""Field types and enums of os-numa objects (oslo.versionedobjects style)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from oslo_utils import strutils
from oslo_versionedobjects import fields as ovo_fields

# Re-export the oslo field types our objects use, so object modules import one place.
Enum = ovo_fields.Enum
FieldType = ovo_fields.FieldType
AutoTypedField = ovo_fields.AutoTypedField
ListOfObjectsField = ovo_fields.ListOfObjectsField
ObjectField = ovo_fields.ObjectField

if TYPE_CHECKING:
    # oslo.versionedobjects types a field's ``default`` as the field's value type, yet a
    # nullable field's default may be None (oslo stores and returns it). Type checkers see
    # these declarations, which allow it; at run time the names are oslo's own classes.
    _T = TypeVar("_T")

    class _NullableDefault(ovo_fields.AutoTypedField[_T]):
        def __init__(
            self,
            nullable: bool = False,
            default: _T | None | type[ovo_fields.UnspecifiedDefault] = ...,
            read_only: bool = False,
        ) -> None: ...

    class BooleanField(_NullableDefault[bool]): ...

    class DictOfIntegersField(_NullableDefault[dict[str, int]]): ...

    class DictOfStringsField(_NullableDefault[dict[str, str]]): ...

    class FloatField(_NullableDefault[float]): ...

    class IntegerField(_NullableDefault[int]): ...

    class ListOfIntegersField(_NullableDefault[list[int]]): ...

    class ListOfSetsOfIntegersField(_NullableDefault[list[set[int]]]): ...

    class ListOfStringsField(_NullableDefault[list[str]]): ...

    class SetOfIntegersField(_NullableDefault[set[int]]): ...

    class StringField(_NullableDefault[str]): ...

    class BaseEnumField(ovo_fields.BaseEnumField):
        def __init__(
            self,
            nullable: bool = False,
            default: str | None | type[ovo_fields.UnspecifiedDefault] = ...,
            read_only: bool = False,
        ) -> None: ...

else:
    BooleanField = ovo_fields.BooleanField
    DictOfIntegersField = ovo_fields.DictOfIntegersField
    DictOfStringsField = ovo_fields.DictOfStringsField
    FloatField = ovo_fields.FloatField
    IntegerField = ovo_fields.IntegerField
    ListOfIntegersField = ovo_fields.ListOfIntegersField
    ListOfSetsOfIntegersField = ovo_fields.ListOfSetsOfIntegersField
    ListOfStringsField = ovo_fields.ListOfStringsField
    SetOfIntegersField = ovo_fields.SetOfIntegersField
    StringField = ovo_fields.StringField
    BaseEnumField = ovo_fields.BaseEnumField


class FlexibleBoolean(FieldType):
    """A boolean that also accepts oslo's strings (``yes``/``no``, ``true``/``false``, ``1``/``0``).

    Glance image properties are all strings; a plain boolean field would turn
    ``"false"`` into ``True``. Anything else raises ``ValueError``.
    """

    @staticmethod
    def coerce(obj: Any, attr: str, value: Any) -> bool:
        return strutils.bool_from_string(value, strict=True)


class FlexibleBooleanField(AutoTypedField):
    AUTO_TYPE = FlexibleBoolean()


class CPUAllocationPolicy(Enum):
    """``hw:cpu_policy``: how guest vCPUs map onto host CPUs."""

    DEDICATED = "dedicated"
    SHARED = "shared"
    MIXED = "mixed"

    ALL = (DEDICATED, SHARED, MIXED)

    def __init__(self) -> None:
        super().__init__(valid_values=CPUAllocationPolicy.ALL)


class CPUThreadAllocationPolicy(Enum):
    """``hw:cpu_thread_policy``: how pinned vCPUs use SMT siblings."""

    PREFER = "prefer"
    ISOLATE = "isolate"
    REQUIRE = "require"

    ALL = (PREFER, ISOLATE, REQUIRE)

    def __init__(self) -> None:
        super().__init__(valid_values=CPUThreadAllocationPolicy.ALL)


class CPUEmulatorThreadsPolicy(Enum):
    """``hw:emulator_threads_policy``. Unset (None) is not the same as ``share``.

    ``pool`` (os-numa only, not in Nova): the emulator threads run on a pCPU of
    the host-wide ``[os_numa] emulator_pin_set`` pool. Objects carrying this enum
    refuse ``pool`` when downgraded to a version from before it existed.
    """

    SHARE = "share"
    ISOLATE = "isolate"
    POOL = "pool"

    ALL = (SHARE, ISOLATE, POOL)

    def __init__(self) -> None:
        super().__init__(valid_values=CPUEmulatorThreadsPolicy.ALL)


class CPUAllocationPolicyField(BaseEnumField):
    AUTO_TYPE = CPUAllocationPolicy()


class CPUThreadAllocationPolicyField(BaseEnumField):
    AUTO_TYPE = CPUThreadAllocationPolicy()


class CPUEmulatorThreadsPolicyField(BaseEnumField):
    AUTO_TYPE = CPUEmulatorThreadsPolicy()
