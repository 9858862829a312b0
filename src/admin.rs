//! `wattpay admin`: platform operations run from a shell against the database (also against a
//! running demo's database with `--data-dir`).

use clap::Subcommand;
use sea_orm::DatabaseConnection;

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
            // The same service as `POST /api/v1/orgs`, so both keep the same rules.
            let created = api::service::identity::create_org(
                db,
                "",
                api::service::identity::NewOrg {
                    name,
                    admin_email,
                    admin_password: Some(admin_password),
                },
                None,
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            let (org, email) = (
                &created.org,
                created
                    .admin
                    .as_ref()
                    .map(|u| u.email.clone())
                    .unwrap_or_default(),
            );
            let name = &org.name;
            println!("organization {} created: {}", org.id, name);
            println!("admin {email} can sign in");
            Ok(())
        }
    }
}
