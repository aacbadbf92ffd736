import os

# Offline: a missing hub file would otherwise cost tens of seconds of retries.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
# The test models are tiny: one intra-op thread per process is as fast as two, and it keeps the
# parallel Ray / submitit workers of the executor tests from oversubscribing the cores.
os.environ["OMP_NUM_THREADS"] = "1"

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_demo():
    from avgzsl_bench.demo import make_demo_dataset

    return make_demo_dataset(samples_per_class=12)
