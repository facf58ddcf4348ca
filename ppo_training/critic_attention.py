"""Let verl 0.9.1 build the PPO critic with the attention kernel its config names (run_ppo.sh's ATTENTION).

verl builds the actor and the reference with the attention of ``override_config.attn_implementation``,
but loads a value model (the critic) through ``verl.utils.model.load_valuehead_model``, which passes
``attn_implementation="flash_attention_2"`` to ``from_pretrained`` whatever the config says: without the
flash-attn package the critic cannot be built. Importing this module replaces that function (verl's FSDP
engine looks it up when it builds the model) by one that loads the same token-classification model with
the config's own attention. run_ppo.sh has verl import it in the critic's workers:

    critic.model.external_lib=ppo_training.critic_attention
"""

from __future__ import annotations

import verl.utils.model

# verl's own, kept for the tests that show what it does
verl_load_valuehead_model = verl.utils.model.load_valuehead_model


def load_valuehead_model(local_path, torch_dtype, model_config, trust_remote_code):
    """A value model (``AutoModelForTokenClassification``; verl set ``num_labels=1`` on the config) with the
    config's ``_attn_implementation``. Qwen2 has a token-classification head, so verl's fallback through
    TRL's value-head wrapper, for models without one, is not needed here."""
    from transformers import AutoModelForTokenClassification

    return AutoModelForTokenClassification.from_pretrained(
        pretrained_model_name_or_path=local_path, torch_dtype=torch_dtype, config=model_config,
        attn_implementation=model_config._attn_implementation, trust_remote_code=trust_remote_code,
    )


verl.utils.model.load_valuehead_model = load_valuehead_model
