//! The only source of the database schema. The application and the tests both run these
//! migrations; nothing creates tables from the entity definitions.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_core;
mod m20261122_000002_access;
mod m20261122_000003_mail;
mod m20261122_000004_customers;
mod m20261122_000005_security_answers;
mod m20261122_000006_terms;
mod m20261122_000007_registration;
mod m20261122_000008_mfa;
mod m20261122_000009_passkeys;
mod m20261122_000010_account_protection;
mod m20261123_000011_logout;
mod m20261123_000012_key_rotation;
mod m20261207_000013_expiry;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_core::Migration),
            Box::new(m20261122_000002_access::Migration),
            Box::new(m20261122_000003_mail::Migration),
            Box::new(m20261122_000004_customers::Migration),
            Box::new(m20261122_000005_security_answers::Migration),
            Box::new(m20261122_000006_terms::Migration),
            Box::new(m20261122_000007_registration::Migration),
            Box::new(m20261122_000008_mfa::Migration),
            Box::new(m20261122_000009_passkeys::Migration),
            Box::new(m20261122_000010_account_protection::Migration),
            Box::new(m20261123_000011_logout::Migration),
            Box::new(m20261123_000012_key_rotation::Migration),
            Box::new(m20261207_000013_expiry::Migration),
        ]
    }
}
