import numpy as np

from app.search.fusion import TOP_BLOCK, rrf_fusion, top_indices, zscore, zscore_fusion


def test_zscore_by_hand() -> None:
    assert np.allclose(zscore(np.array([1.0, 2.0, 3.0])), [-1.224745, 0.0, 1.224745])
    assert np.allclose(zscore(np.array([0.0, 0.0, 0.0])), 0.0)  # no signal, no preference


def test_zscore_fusion_mixes_by_weight() -> None:
    dense = np.array([0.9, 0.5, 0.1])
    lexical = np.array([0.0, 0.0, 12.0])
    assert np.argmax(zscore_fusion(dense, lexical, 1.0)) == 0
    assert np.argmax(zscore_fusion(dense, lexical, 0.0)) == 2
    # lexical all zeros (no query word indexed): the dense order decides alone
    assert list(np.argsort(-zscore_fusion(dense, np.zeros(3), 0.5))) == [0, 1, 2]


def test_rrf_by_hand() -> None:
    dense = np.array([0.9, 0.5, 0.1])  # ranks 1, 2, 3
    lexical = np.array([1.0, 3.0, 2.0])  # ranks 3, 1, 2
    fused = rrf_fusion(dense, lexical, 0.5, k=60)
    expected = [0.5 / 61 + 0.5 / 63, 0.5 / 62 + 0.5 / 61, 0.5 / 63 + 0.5 / 62]
    assert np.allclose(fused, expected)


def test_rrf_gives_ties_one_rank_and_no_credit_for_a_zero_bm25_score() -> None:
    dense = np.array([0.5, 0.5, 0.5])  # all tied: no candidate is ahead, whatever its chunk id
    lexical = np.array([0.0, 2.0, 0.0])  # only the second has a query word
    fused = rrf_fusion(dense, lexical, 0.5, k=60)
    assert np.allclose(fused, [0.5 / 61, 0.5 / 61 + 0.5 / 61, 0.5 / 61])
    assert fused[0] == fused[2]


def test_top_indices_are_the_largest_scores_best_first_at_any_length() -> None:
    rng = np.random.default_rng(3)
    for size in (7, 50, TOP_BLOCK * 50 - 1, TOP_BLOCK * 60 + 17, 300_000):
        scores = rng.gamma(1.0, size=size).astype(np.float32)
        scores[rng.random(size) < 0.4] = 0.0  # BM25: many chunks share no word with the query
        scores[-1] = scores.max() + 1  # the best one in the ragged tail past the last full block
        top = top_indices(scores, 50)
        assert len(top) == min(50, size)
        assert top[0] == size - 1
        assert list(scores[top]) == sorted(scores[top], reverse=True)
        assert np.array_equal(np.sort(scores[top]), np.sort(scores)[-len(top) :])


def test_top_indices_with_ties_and_all_zero_scores() -> None:
    zeros = np.zeros(TOP_BLOCK * 80, dtype=np.float32)
    assert len(set(top_indices(zeros, 50).tolist())) == 50
    few = zeros.copy()
    few[[5, 70_000, 81_919]] = [2.0, 3.0, 1.0]
    assert list(top_indices(few, 50)[:3]) == [70_000, 5, 81_919]
