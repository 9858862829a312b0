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
    /// Print a Mosquitto password file: the workers' user (password from `--password` or
    /// `WATTPAY_MQTT_PASSWORD`) and, with `--gateways`, every gateway of the platform.
    MqttPasswd {
        #[arg(long, default_value = "wattpay-worker")]
        username: String,
        #[arg(long, env = "WATTPAY_MQTT_PASSWORD", hide_env_values = true)]
        password: String,
        /// Also list every organization's gateways with their stored hashes.
        #[arg(long)]
        gateways: bool,
    },
}

pub async fn run(db: &DatabaseConnection, command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::MqttPasswd {
            username,
            password,
            gateways,
        } => {
            use api::routes::mqtt::broker_files;
            anyhow::ensure!(
                !username.is_empty() && !username.contains(':'),
                "--username must be non-empty and without ':'"
            );
            anyhow::ensure!(!password.is_empty(), "the MQTT password must not be empty");
            let worker = broker_files::worker_line(&username, &password.into());
            let gateways = if gateways {
                broker_files::all_gateway_hashes(db).await?
            } else {
                Vec::new()
            };
            print!("{}", broker_files::passwd_file(&[worker], &gateways));
            Ok(())
        }
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
