//! The one place HTTP clients are made: TLS through rustls with the `ring`
//! provider (installed once per process) and bangui's user agent.

pub fn client_builder() -> reqwest::ClientBuilder {
    // Fails only when a provider is installed already, which is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().user_agent(concat!("bangui/", env!("CARGO_PKG_VERSION")))
}
