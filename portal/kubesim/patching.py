"""The three patch types the API server accepts for built-in objects.

JSON Patch (RFC 6902) goes through the `jsonpatch` library and JSON Merge Patch follows RFC 7386. Strategic merge
patch is a documented subset: maps merge recursively and `null` deletes a key; the lists below merge by their key
(as the Go types' `patchMergeKey` tags say) and every other list is replaced whole; the directives `$patch: replace`
and `$patch: delete` are understood on maps and `$patch: delete` on keyed list items. Any other directive
(`$retainKeys`, `$setElementOrder/...`, `$deleteFromPrimitiveList/...`) is refused with a 422 rather than ignored.
"""

import copy
from collections.abc import Mapping
from typing import Any

import jsonpatch
import jsonpointer

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
PATCH_TYPES = frozenset({JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH})

# List fields of Deployment, Pod template and Node that strategic merge patch merges by key.
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "ports": "containerPort",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
    "schedulingGates": "name",
    "ownerReferences": "uid",
}


class PatchError(ValueError):
    """The patch cannot be applied; `unsupported` marks what this simulator refuses rather than misapplies."""

    def __init__(self, message: str, *, unsupported: bool = False):
        super().__init__(message)
        self.unsupported = unsupported


def apply_patch(obj: dict[str, Any], patch: Any, content_type: str) -> dict[str, Any]:
    if content_type == JSON_PATCH:
        if not isinstance(patch, list) or not all(isinstance(operation, dict) for operation in patch):
            raise PatchError("a JSON Patch must be a list of operations")
        try:
            patched = jsonpatch.apply_patch(obj, patch)
        except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
            raise PatchError(f"the JSON Patch does not apply: {exc}") from exc
    elif not isinstance(patch, dict):
        raise PatchError("a merge patch must be a JSON object")
    elif content_type == MERGE_PATCH:
        patched = merge_patch(obj, patch)
    else:
        patched = strategic_merge_patch(obj, patch)
    if not isinstance(patched, dict):
        raise PatchError("the patched object is not a JSON object")
    return patched


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, `null` removes a member, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _directive(patch: Mapping[str, Any]) -> str | None:
    unknown = sorted(key for key in patch if key.startswith("$") and key != "$patch")
    if unknown:
        raise PatchError(f"strategic merge patch directive {unknown[0]!r} is not supported here", unsupported=True)
    directive = patch.get("$patch")
    if directive not in (None, "merge", "replace", "delete"):
        raise PatchError(f"unknown $patch directive {directive!r}")
    return directive


def strategic_merge_patch(target: Any, patch: Mapping[str, Any]) -> dict[str, Any]:
    directive = _directive(patch)
    fields = {key: value for key, value in patch.items() if key != "$patch"}
    if directive == "replace":
        return copy.deepcopy(fields)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in fields.items():
        if value is None or (isinstance(value, dict) and _directive(value) == "delete"):
            result.pop(key, None)
        elif isinstance(value, dict):
            result[key] = strategic_merge_patch(result.get(key), value)
        elif isinstance(value, list) and key in MERGE_KEYS:
            result[key] = _merge_list(result.get(key) or [], value, MERGE_KEYS[key])
        else:
            result[key] = copy.deepcopy(value)
    return result


def _merge_list(current: list[Any], patch: list[Any], merge_key: str) -> list[Any]:
    result = copy.deepcopy(current)
    for item in patch:
        if not isinstance(item, dict) or merge_key not in item:
            raise PatchError(f"every item of a list merged by {merge_key!r} needs that key")
        index = next((i for i, existing in enumerate(result) if existing.get(merge_key) == item[merge_key]), None)
        if _directive(item) == "delete":
            if index is not None:
                del result[index]
        elif index is None:
            result.append(strategic_merge_patch({}, item))
        else:
            result[index] = strategic_merge_patch(result[index], item)
    return result
