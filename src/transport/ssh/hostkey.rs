//! Host keys: the russh handler checks the server's key against known_hosts (and records a new one
//! where `StrictHostKeyChecking accept-new` allows it).

use super::*;

/// The russh handler: checks the server's host key against known_hosts.
pub(super) struct Client {
    pub(super) host: String,
    pub(super) name: String,
    pub(super) files: Vec<PathBuf>,
    pub(super) accept_new: bool,
}

#[derive(Debug)]
pub(super) enum HandlerError {
    Ssh(russh::Error),
    Refused(SshError),
}

impl From<russh::Error> for HandlerError {
    fn from(e: russh::Error) -> Self {
        HandlerError::Ssh(e)
    }
}

impl client::Handler for Client {
    type Error = HandlerError;

    async fn check_server_key(&mut self, server_public_key: &russh::keys::PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        let key = match server_public_key {
            russh::keys::PublicKeyOrCertificate::PublicKey { key, .. } => key.clone(),
            russh::keys::PublicKeyOrCertificate::Certificate(_) => {
                return Err(HandlerError::Refused(SshError::Connect {
                    host: self.host.clone(),
                    reason: "the server offered a host certificate; kockpit checks plain host keys only".into(),
                }));
            }
        };
        let fp = fingerprint(&key);
        let (files, name, k) = (self.files.clone(), self.name.clone(), key.clone());
        let status = tokio::task::spawn_blocking(move || known_hosts::check(&files, &name, &k))
            .await
            .map_err(|e| HandlerError::Refused(SshError::Connect { host: self.host.clone(), reason: e.to_string() }))?
            .map_err(|e| HandlerError::Refused(SshError::Connect { host: self.host.clone(), reason: format!("known_hosts: {e}") }))?;
        let list = || self.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", ");
        match status {
            HostKeyStatus::Known => Ok(true),
            HostKeyStatus::Unknown if self.accept_new => {
                let Some(file) = self.files.first().cloned() else {
                    return Err(HandlerError::Refused(SshError::UnknownHostKey {
                        host: self.host.clone(),
                        fingerprint: fp,
                        files: "(none)".into(),
                    }));
                };
                let name = self.name.clone();
                let written = tokio::task::spawn_blocking(move || known_hosts::append(&file, &name, &key)).await;
                match written {
                    Ok(Ok(())) => {
                        tracing::warn!(host = %self.host, fingerprint = %fp, "accepted a new host key (accept_new_host_keys) and recorded it");
                        Ok(true)
                    }
                    Ok(Err(e)) => Err(HandlerError::Refused(SshError::Connect {
                        host: self.host.clone(),
                        reason: format!("cannot record the new host key {fp}: {e}"),
                    })),
                    Err(e) => Err(HandlerError::Refused(SshError::Connect { host: self.host.clone(), reason: e.to_string() })),
                }
            }
            HostKeyStatus::Unknown => {
                Err(HandlerError::Refused(SshError::UnknownHostKey { host: self.host.clone(), fingerprint: fp, files: list() }))
            }
            HostKeyStatus::Changed { file, line } => Err(HandlerError::Refused(SshError::HostKeyChanged {
                host: self.host.clone(),
                fingerprint: fp,
                file: file.display().to_string(),
                line,
            })),
            HostKeyStatus::Revoked { file, line } => Err(HandlerError::Refused(SshError::HostKeyRevoked {
                host: self.host.clone(),
                fingerprint: fp,
                file: file.display().to_string(),
                line,
            })),
        }
    }
}
