import sys

import pytest

from keras_attention.data import (
    MalformedDataError,
    ReadReport,
    read_labelled,
    read_sentence_pairs,
    read_text,
    read_tfds,
)


def write(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


PAIRS = (
    b"5 March 2024\t2024-03-05\n"  # 1
    b"only one column\n"  # 2
    b"\n"  # 3: blank, skipped
    b"bad \xff byte\t2024-01-01\n"  # 4
    b"a\tb\tc\n"  # 5
    b"\t2024-01-02\n"  # 6: empty source
    b"March 6, 2024\t2024-03-06\r\n"  # 7
)


def test_pairs_report_malformed_lines_with_one_based_numbers(tmp_path):
    pairs, report = read_sentence_pairs(write(tmp_path, "pairs.tsv", PAIRS))
    assert pairs == [("5 March 2024", "2024-03-05"), ("March 6, 2024", "2024-03-06")]
    assert report.total_lines == 7
    assert report.malformed == [
        (2, "expected 2 tab-separated columns, got 1"),
        (4, "invalid UTF-8 byte 0xff at byte 5"),
        (5, "expected 2 tab-separated columns, got 3"),
        (6, "empty field in column 1"),
    ]
    assert report.summary().startswith(
        "4 of 7 lines malformed: line 2 (expected 2 tab-separated columns, got 1), line 4"
    )


def test_a_test_file_s_empty_expected_answers_are_pairs_and_skipped_lines_are_reported(tmp_path):
    """`empty_targets=True` (a test set of yours: "" is the right answer to an
    impossible date) reads an empty target as a pair; every line is a pair,
    malformed, or skipped (blank), by number."""
    path = write(tmp_path, "pairs.tsv", PAIRS + b"February 30, 2023\t\n" + b"  \t \n")  # 8, 9
    pairs, report = read_sentence_pairs(path, empty_targets=True)
    assert pairs == [("5 March 2024", "2024-03-05"), ("March 6, 2024", "2024-03-06"),
                     ("February 30, 2023", "")]
    assert report.malformed == [
        (2, "expected 2 tab-separated columns, got 1"),
        (4, "invalid UTF-8 byte 0xff at byte 5"),
        (5, "expected 2 tab-separated columns, got 3"),
        (6, "empty field in column 1"),
    ]
    assert report.skipped == [(3, "blank"), (9, "blank")]  # a tab among spaces is blank too
    assert report.total_lines == len(pairs) + len(report.malformed) + len(report.skipped) == 9
    # Training data keeps refusing an empty target.
    assert read_sentence_pairs(path)[1].malformed[-1] == (8, "empty field in column 2")


def test_strict_raises_with_the_summary(tmp_path):
    path = write(tmp_path, "pairs.tsv", PAIRS)
    with pytest.raises(MalformedDataError, match="4 of 7 lines malformed: line 2") as info:
        read_sentence_pairs(path, strict=True)
    assert isinstance(info.value, ValueError)
    assert str(path) in str(info.value)


def test_summary_lists_the_first_ten():
    report = ReadReport("x.txt", 20, [(i, "bad") for i in range(1, 13)])
    summary = report.summary()
    assert summary.startswith("12 of 20 lines malformed: line 1 (bad)")
    assert "line 10 (bad), and 2 more" in summary and "line 11" not in summary
    assert ReadReport("x.txt", 3).summary() == "0 of 3 lines malformed"


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.tsv"):
        read_sentence_pairs(tmp_path / "missing.tsv")
    empty = write(tmp_path, "empty.txt", b"")
    with pytest.raises(ValueError, match="empty.txt"):
        read_text(empty)
    blank = write(tmp_path, "blank.tsv", b"\n  \nno tab\n")
    with pytest.raises(ValueError, match="No valid examples.*blank.tsv"):
        read_sentence_pairs(blank)


def test_read_text_skips_blank_lines(tmp_path):
    path = write(tmp_path, "corpus.txt", b"\xef\xbb\xbfFirst.\n\n  Second.  \n\xc3\n")
    texts, report = read_text(path)
    assert texts == ["First.", "Second."]
    assert report.malformed == [(4, "invalid UTF-8 byte 0xc3 at byte 1")]
    with pytest.raises(MalformedDataError, match="line 4"):
        read_text(path, strict=True)


def test_read_labelled_csv_with_header_and_quotes(tmp_path):
    path = write(
        tmp_path,
        "reviews.csv",
        b'text,label\n"Great, really.",pos\nawful,\nno label column\nfine,neg\n',
    )
    texts, labels, report = read_labelled(path)
    assert texts == ["Great, really.", "fine"]
    assert labels == ["pos", "neg"]
    assert report.malformed == [
        (3, "empty field in column 2"),
        (4, "expected at least 2 ','-separated columns, got 1"),
    ]


def test_read_labelled_tsv_columns_and_delimiter(tmp_path):
    path = write(tmp_path, "data.tsv", b"neg\tid1\tbad film\npos\tid2\tgood film\n")
    texts, labels, _ = read_labelled(path, text_column=2, label_column=0)
    assert texts == ["bad film", "good film"] and labels == ["neg", "pos"]
    other = write(tmp_path, "data.txt", b"a|x\nb|y\n")
    assert read_labelled(other, delimiter="|")[:2] == (["a", "b"], ["x", "y"])
    with pytest.raises(ValueError, match="`delimiter` must be given"):
        read_labelled(other)
    with pytest.raises(ValueError, match="label_column=0"):
        read_labelled(path, text_column=0, label_column=0)


def test_read_tfds_without_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)
    with pytest.raises(ImportError, match=r"pip install keras-attention-zoo\[tfds\]"):
        read_tfds("ted_hrlr_translate/pt_to_en", "train")
