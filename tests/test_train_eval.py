"""In-training completion accuracy judges answers like the dataset's judge does."""
from cadmus.train.evaluation import verify_completions


def test_only_integer_answers_that_hold_pass():
    prompt = "mov c 5\nassert c "
    samples = ["c", "5", "5\nhalt", "6", "", "5 5"]
    assert verify_completions([prompt] * len(samples), samples).tolist() == [False, True, True, False, False, False]
