"""WavCaps CLAP backbone (HTSAT + BERT, 1024-d): architecture, tokenizer settings, checkpoint key mapping."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from feature_zoo import bert_tokenizer as bt
from feature_zoo.wavcaps import WavCapsHTSATBert, load_checkpoint, map_checkpoint_keys
from feature_zoo.weights import WeightsMissingError

# Parameter counts of WavCaps' own ASE model (their HTSAT with its torchlibrosa front end, and audio_proj).
WAVCAPS_AUDIO_ENCODER_PARAMS = 31_325_143
WAVCAPS_AUDIO_PROJ_PARAMS = 1_837_056
# torchlibrosa's frozen STFT kernels (2 x 513 x 1024) and mel filter bank (513 x 64) are parameters too.
FRONT_END_PARAMS = 2 * 513 * 1024 + 513 * 64

# The key table of the WavCaps checkpoint, written out the other way round: our name -> theirs.
OURS_TO_THEIRS = (
    ("audio_encoder.spectrogram_extractor.", "audio_encoder.audio_enc.audio_feats_extractor.mel_trans."),
    ("audio_encoder.logmel_extractor.", "audio_encoder.audio_enc.audio_feats_extractor.log_trans."),
    ("audio_encoder.", "audio_encoder.audio_enc."),
    ("text_encoder.", "text_encoder.text_encoder."),
    ("audio_proj.", "audio_proj."),
    ("text_proj.", "text_proj."),
)


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _wavcaps_name(key: str) -> str:
    ours, theirs = next((o, t) for o, t in OURS_TO_THEIRS if key.startswith(o))
    return theirs + key[len(ours) :]


# ---------------------------------------------------------------------------------------------- architecture


def test_parameter_counts_equal_wavcaps(audio):
    model = audio.model
    front_end = [model.audio_encoder.spectrogram_extractor, model.audio_encoder.logmel_extractor]
    assert sum(_count(m) for m in front_end) == FRONT_END_PARAMS  # counted inside the encoder below
    assert _count(model.audio_encoder) == WAVCAPS_AUDIO_ENCODER_PARAMS
    assert _count(model.audio_proj) == WAVCAPS_AUDIO_PROJ_PARAMS
    assert _count(model.audio_encoder) + _count(model.audio_proj) == 33_162_199
    shapes = [tuple(p.shape) for p in model.text_proj.parameters()]
    assert shapes == [(1024, 768), (1024,), (1024, 1024), (1024,)]
    assert [tuple(p.shape) for p in model.audio_proj.parameters()] == shapes
    assert isinstance(model.text_proj[1], torch.nn.ReLU) and isinstance(model.audio_proj[1], torch.nn.ReLU)


def test_htsat_and_bert_hyperparameters(audio):
    htsat, bert = audio.model.audio_encoder, audio.model.text_encoder
    assert (htsat.spec_size, htsat.embed_dim, htsat.depths, htsat.num_heads, htsat.window_size) == (
        256,
        96,
        [2, 2, 6, 2],
        [4, 8, 16, 32],
        8,
    )
    assert (htsat.patch_size, htsat.num_classes, htsat.num_features, htsat.freq_ratio) == (4, 527, 768, 4)
    assert htsat.logmel_extractor.melW.shape == (513, 64)  # n_fft 1024 -> 513 bins, 64 mels
    config = bert.config
    assert (
        config.vocab_size,
        config.hidden_size,
        config.num_hidden_layers,
        config.num_attention_heads,
        config.intermediate_size,
        config.max_position_embeddings,
    ) == (30522, 768, 12, 12, 3072, 512)
    assert bert.pooler is None  # WavCaps builds BERT without the pooling layer


def test_audio_embeddings_are_1024d_unit_vectors_per_clip(audio):
    t = torch.arange(320000) / 32000.0
    waves = torch.stack([0.3 * torch.sin(2 * torch.pi * 440 * t), 0.05 * torch.randn(320000)])
    embeddings = audio.encode_audio(waves)
    assert embeddings.shape == (2, 1024) and embeddings.dtype == torch.float32
    assert torch.allclose(embeddings.norm(dim=-1), torch.ones(2), atol=1e-5)
    assert not torch.allclose(embeddings[0], embeddings[1], atol=1e-3)
    alone = audio.encode_audio(waves[1:])  # eval mode: a clip's embedding does not depend on its batch
    assert torch.allclose(alone[0], embeddings[1], atol=1e-5)


def test_text_embeddings_are_1024d_unit_vectors(audio):
    prompts = ["a dog barking can be heard.", "rain can be heard.", "a dog barking can be heard."]
    embeddings = audio.encode_texts(prompts)
    assert embeddings.shape == (3, 1024) and torch.allclose(embeddings.norm(dim=-1), torch.ones(3), atol=1e-5)
    assert torch.allclose(embeddings[0], embeddings[2], atol=1e-5)
    assert not torch.allclose(embeddings[0], embeddings[1], atol=1e-3)


# ---------------------------------------------------------------------------------------------- tokenizer


def test_tokenizer_settings_match_wavcaps(bert_vocab):
    tokenizer = bt.PromptTokenizer(bert_vocab)
    encoded = tokenizer(["a dog barking can be heard.", "Rain."])
    # bert-base-uncased word pieces; the short prompt is padded to the longest with [PAD] = 0
    assert encoded["input_ids"].tolist() == [
        [101, 1037, 3899, 19372, 2064, 2022, 2657, 1012, 102],
        [101, 4542, 1012, 102, 0, 0, 0, 0, 0],
    ]
    assert encoded["attention_mask"].tolist() == [[1] * 9, [1] * 4 + [0] * 5]
    assert torch.equal(tokenizer(["A DOG Barking"])["input_ids"], tokenizer(["a dog barking"])["input_ids"])
    long = tokenizer(["a demonstration of the person practicing " * 10])["input_ids"]
    assert long.shape == (1, bt.MAX_TOKENS) == (1, 30) and long[0, 0] == 101 and long[0, -1] == 102


def test_vocabulary_lookup_verifies_the_file(bert_vocab, tmp_path, monkeypatch):
    monkeypatch.setenv("FEATURE_ZOO_WEIGHTS", str(tmp_path / "weights"))
    assert bt.find_vocab() == bert_vocab  # no weights-dir copy: the packaged file, hash-checked
    assert bt.find_vocab(bert_vocab.parent) == bert_vocab
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "vocab.txt").write_text("[PAD]\nhello\n")
    with pytest.raises(WeightsMissingError, match="not bert-base-uncased"):
        bt.find_vocab(tmp_path / "other")
    with pytest.raises(WeightsMissingError, match="--clap-tokenizer"):
        bt.find_vocab(tmp_path / "nowhere")


def test_without_any_vocabulary_only_random_init_gets_the_stand_in(tmp_path, monkeypatch):
    monkeypatch.setenv("FEATURE_ZOO_WEIGHTS", str(tmp_path))
    monkeypatch.setattr(bt, "packaged_vocab", lambda: None)
    with pytest.raises(WeightsMissingError, match="vocab.txt"):
        bt.PromptTokenizer.locate(None, allow_stand_in=False, hint="")
    stand_in = bt.PromptTokenizer.locate(None, allow_stand_in=True, hint="")
    assert stand_in.source == bt.STAND_IN
    ids = stand_in(["ab c", "a"])["input_ids"]
    assert ids[0, 0] == ids[1, 0] == 101 and ids[1, 2] == 102 and ids[1, 3] == 0  # BERT's [CLS]/[SEP]/[PAD] ids
    assert int(ids.max()) < 30522  # fits BERT's embedding table


# ---------------------------------------------------------------------------------------------- checkpoint


def test_checkpoint_key_table():
    t = torch.zeros(1)
    mapped = map_checkpoint_keys(
        {
            "audio_encoder.audio_enc.audio_feats_extractor.mel_trans.stft.conv_real.weight": t,
            "audio_encoder.audio_enc.audio_feats_extractor.log_trans.melW": t,
            "module.audio_encoder.audio_enc.layers.0.blocks.0.attn.qkv.weight": t,
            "text_encoder.text_encoder.encoder.layer.0.output.dense.bias": t,
            "audio_proj.2.weight": t,
            "text_proj.0.bias": t,
            "temp": t,
            "text_encoder.text_encoder.embeddings.position_ids": t,
        }
    )
    assert sorted(mapped) == sorted(
        [
            "audio_encoder.spectrogram_extractor.stft.conv_real.weight",
            "audio_encoder.logmel_extractor.melW",
            "audio_encoder.layers.0.blocks.0.attn.qkv.weight",
            "text_encoder.encoder.layer.0.output.dense.bias",
            "audio_proj.2.weight",
            "text_proj.0.bias",
        ]
    )
    with pytest.raises(KeyError, match="no counterpart"):
        map_checkpoint_keys({"audio_encoder.something_else": t})


def test_wavcaps_checkpoint_loads_every_tensor(audio, bert_vocab, tmp_path):
    """A checkpoint in WavCaps' format (random values) loads strictly, tensor for tensor, into our modules."""
    generator = torch.Generator().manual_seed(3)
    ours = {
        k: v + 0.01 * torch.randn(v.shape, generator=generator) if v.is_floating_point() else v
        for k, v in audio.model.state_dict().items()
    }
    theirs = {_wavcaps_name(k): v for k, v in ours.items()} | {"temp": torch.tensor(0.07)}
    path = tmp_path / "HTSAT_BERT_zero_shot.pt"
    try:  # 0.6 GB: removed at once rather than left to pytest's temp-dir retention
        torch.save({"model": theirs, "epoch": 3, "config": {"embed_size": 1024}}, path)
        loaded = WavCapsHTSATBert(checkpoint=path, tokenizer_dir=bert_vocab.parent)
        assert loaded.identity.startswith("wavcaps-htsat-bert/sha256-") and not loaded.random_init
        state = loaded.model.state_dict()
        assert state.keys() == ours.keys() and all(torch.equal(state[k], ours[k]) for k in ours)
        del theirs["text_proj.0.bias"]
        torch.save({"model": theirs}, path)
        with pytest.raises(KeyError, match="text_proj.0.bias"):
            load_checkpoint(loaded.model, path)
    finally:
        path.unlink(missing_ok=True)


def test_front_end_frames_fit_the_htsat_image(audio):
    # the extractor feeds 10 s at 32 kHz: HTSAT's 1001 STFT frames fit its 1024-frame image
    assert int(audio.sample_rate * audio.clip_seconds) == 320000
    np.testing.assert_array_equal(
        audio.model.audio_encoder.spectrogram_extractor(torch.zeros(1, 320000)).shape, (1, 1, 1001, 513)
    )
