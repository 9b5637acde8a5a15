"""Config precedence (flag > environment > default), derived defaults and validation."""

from __future__ import annotations

import pytest

from pipelines import configs


def test_defaults():
    config = configs.load_config([], environ={})
    assert config.dataset == "mnist"
    assert config.splits == {"train": "train", "eval": "test"}
    assert config.resolved_pipeline_root == str(configs.BUILD_DIR / "pipelines" / "mnist_pruning")
    assert config.resolved_metadata_path.endswith("pipelines/mnist_pruning/metadata.sqlite")
    assert config.enable_cache is True
    assert config.beam_pipeline_args == [
        "--runner=DirectRunner",
        "--direct_running_mode=multi_threading",
        "--direct_num_workers=0",
    ]


def test_environment_overrides_default_and_flag_overrides_environment():
    environ = {"DATASET": "fashion_mnist", "EXAMPLE_LIMIT": "100", "ENABLE_CACHE": "false"}
    config = configs.load_config(["--example-limit", "7"], environ=environ)
    assert config.dataset == "fashion_mnist"
    assert config.example_limit == 7
    assert config.enable_cache is False


def test_empty_environment_values_mean_default():
    config = configs.load_config([], environ={"DATASET": "", "EXAMPLE_LIMIT": ""})
    assert config.dataset == "mnist"
    assert config.example_limit is None


def test_pipeline_root_and_metadata_follow_each_other(tmp_path):
    config = configs.load_config(["--pipeline-root", str(tmp_path)], environ={})
    assert config.resolved_metadata_path == str(tmp_path / "metadata.sqlite")


def test_manual_dir_defaults_to_shared_data_of_the_dataset(monkeypatch, tmp_path):
    monkeypatch.setattr(configs, "SHARED_DATA_DIR", tmp_path)
    (tmp_path / "mnist").mkdir()
    assert configs.load_config([], environ={}).resolved_manual_dir == str(tmp_path / "mnist")
    fashion = configs.load_config([], environ={"DATASET": "fashion_mnist"})
    assert fashion.resolved_manual_dir is None
    explicit = configs.load_config([], environ={"TFDS_MANUAL_DIR": "/data/x"})
    assert explicit.resolved_manual_dir == "/data/x"


def test_hash_buckets_parse():
    config = configs.load_config(["--hash-buckets", "train:9, eval:1"], environ={})
    assert config.hash_bucket_map == {"train": 9, "eval": 1}


@pytest.mark.parametrize(
    ("argv", "environ", "message"),
    [
        ([], {"EXAMPLE_LIMIT": "ten"}, "EXAMPLE_LIMIT='ten' is not an integer"),
        (["--num-shards", "x"], {}, "--num-shards='x' is not an integer"),
        ([], {"ENABLE_CACHE": "maybe"}, "ENABLE_CACHE='maybe' is not a boolean"),
        ([], {"EXAMPLE_LIMIT": "0"}, "example_limit must be >= 1, got 0"),
        ([], {"BEAM_RUNNING_MODE": "fast"}, "Unknown beam_running_mode 'fast'"),
        ([], {"HASH_BUCKETS": "train=9"}, "hash_buckets item 'train=9' must look like"),
    ],
)
def test_bad_values_are_named(argv, environ, message):
    with pytest.raises(ValueError, match=message):
        configs.load_config(argv, environ=environ)


def test_every_field_has_an_environment_variable_and_a_flag():
    parser = configs.build_arg_parser()
    help_text = parser.format_help()
    for field in configs.dataclasses.fields(configs.PipelineConfig):
        assert configs.flag_name(field) in help_text
        assert field.metadata["env"] in help_text


def test_readme_documents_every_option():
    readme = (configs.PROJECT_ROOT / "README.md").read_text()
    for field in configs.dataclasses.fields(configs.PipelineConfig):
        assert f"`{field.metadata['env']}`" in readme
        assert f"`{configs.flag_name(field)}`" in readme
