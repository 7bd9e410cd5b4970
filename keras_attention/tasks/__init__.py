"""Tasks: one module per task, on a small base (`base.Task`), and the one
registry that maps a recipe's `task.kind` to its class.

Recipe validation, the run loop, the CLI, the export and the tuner all read
`TASKS`: a task kind is never matched as a string anywhere else.
"""

from keras_attention.tasks.base import GroupedExamples, Task, split, split_groups
from keras_attention.tasks.classification import ClassificationTask
from keras_attention.tasks.language_model import LanguageModelTask
from keras_attention.tasks.masked_lm import MaskedLMTask
from keras_attention.tasks.translation import TranslationTask
from keras_attention.training.recipe import RecipeError

__all__ = [
    "ClassificationTask",
    "GroupedExamples",
    "LanguageModelTask",
    "MaskedLMTask",
    "TASKS",
    "Task",
    "TranslationTask",
    "get_task",
    "split",
    "split_groups",
]

TASKS: dict[str, type[Task]] = {
    task.kind: task
    for task in (TranslationTask, LanguageModelTask, MaskedLMTask, ClassificationTask)
}


def get_task(recipe: dict) -> Task:
    """The task a (validated) recipe describes, ready to load its data.

    Raises:
        RecipeError: when `task.kind` names no task.
    """
    kind = recipe.task.kind
    if kind not in TASKS:
        raise RecipeError(
            f"`task.kind` {kind!r} is not a task. It must be one of {sorted(TASKS)}."
        )
    return TASKS[kind](recipe)
