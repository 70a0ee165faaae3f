//! `unmt stages`: every stage kind with its code version and parameters (defaults shown).

use crate::error::Error;

/// Prints the stage list.
pub fn run() -> Result<i32, Error> {
    for s in crate::stages::registry() {
        println!(
            "{} (code version {}): {}",
            s.kind(),
            s.code_version(),
            s.summary()
        );
        let empty = toml::Spanned::new(0..0, toml::de::DeValue::Table(toml::de::DeTable::new()));
        match s.resolve(empty) {
            Ok(p) => {
                for (k, v) in &p.full {
                    println!("    {k} = {v}");
                }
            }
            Err(_) => println!("    params: {}", s.param_fields().join(", ")),
        }
    }
    Ok(0)
}
