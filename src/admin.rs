//! `wattpay admin`: platform operations run from a shell against the database (also against a
//! running demo's database with `--data-dir`).

use clap::Subcommand;
use sea_orm::{DatabaseConnection, TransactionTrait as _};

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an organization and its first admin user.
    CreateOrg {
        #[arg(long)]
        name: String,
        #[arg(long)]
        admin_email: String,
        /// At least 10 characters.
        #[arg(long, env = "WATTPAY_ADMIN_PASSWORD")]
        admin_password: String,
    },
}

pub async fn run(db: &DatabaseConnection, command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::CreateOrg {
            name,
            admin_email,
            admin_password,
        } => {
            let name = name.trim();
            anyhow::ensure!(!name.is_empty(), "--name must not be empty");
            let email = admin_email.trim().to_lowercase();
            anyhow::ensure!(
                email.contains('@') && !email.starts_with('@') && !email.ends_with('@'),
                "--admin-email is not an email address: {admin_email}"
            );
            anyhow::ensure!(
                admin_password.chars().count() >= 10,
                "--admin-password must have at least 10 characters"
            );
            anyhow::ensure!(
                store::user::find_user_by_email(db, &email).await?.is_none(),
                "a user with email {email} already exists"
            );
            let hash = api::auth::password::hash_password(&admin_password)?;
            let txn = db.begin().await?;
            let org = store::organization::create_organization(&txn, name).await?;
            let user = store::user::create_user(
                &txn,
                store::user::NewUser {
                    email: email.clone(),
                    password_hash: hash,
                    name: "Admin".to_owned(),
                    platform_admin: false,
                },
            )
            .await?;
            store::user::add_membership(&txn, org.id, user.id, domain::Role::OrgAdmin).await?;
            txn.commit().await?;
            println!("organization {} created: {}", org.id, name);
            println!("admin {email} can sign in");
            Ok(())
        }
    }
}
