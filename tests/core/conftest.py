"""The tiny models of the training and inference tests, for the job tests that train and generate."""
from tests.inference.conftest import generator, tiny_checkpoint  # noqa: F401 - fixtures
from tests.training.conftest import chats, tiny_model_dir  # noqa: F401 - fixtures
