//! Patching Codex Desktop so custom models show in its model picker (`patch-app`, `restore-app`).

pub mod asar;
pub mod needles;
