//! First-run setup (`/setup`): the owner account and the first org, while no account exists.

use app::identity::SetupInput;
use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;

use super::{Answer, anonymous, failed, signed_in};
use crate::AppState;
use crate::assets::Assets;
use crate::authn::{check_pre_session, pre_session};
use crate::extract::ClientInfo;
use crate::web::page::{Shell, describe, see_other};

#[derive(Template)]
#[template(path = "auth/setup.html")]
struct SetupPage {
    assets: &'static Assets,
    version: &'static str,
    shell: Option<Shell>,
    csrf: String,
    notice: Option<&'static str>,
    error: Option<String>,
    name: String,
    email: String,
    org_name: String,
}

impl SetupPage {
    fn new(csrf: String) -> Self {
        Self {
            assets: crate::assets::assets(),
            version: crate::VERSION,
            shell: None,
            csrf,
            notice: None,
            error: None,
            name: String::new(),
            email: String::new(),
            org_name: String::new(),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct SetupForm {
    csrf_token: String,
    name: String,
    email: String,
    password: String,
    org_name: String,
}

/// `GET /setup`: the first-run form, while no account exists.
pub(super) async fn setup_form(State(s): State<AppState>, headers: HeaderMap) -> Answer {
    if !s.app.setup_open().await? {
        return Ok(see_other("/signin"));
    }
    let (csrf, cookie) = pre_session(&s, &headers);
    Ok(anonymous(StatusCode::OK, &SetupPage::new(csrf), cookie))
}

/// `POST /setup`: creates the owner and the first org, and signs the owner in.
pub(super) async fn setup_submit(
    State(s): State<AppState>,
    headers: HeaderMap,
    ClientInfo(c): ClientInfo,
    Form(f): Form<SetupForm>,
) -> Answer {
    check_pre_session(&s, &headers, &f.csrf_token)?;
    if !s.app.setup_open().await? {
        return Ok(see_other("/signin"));
    }
    let input = SetupInput {
        email: f.email.clone(),
        password: f.password,
        name: f.name.clone(),
        org_name: f.org_name.clone(),
    };
    match s.app.setup(input, &c).await {
        Ok(signed) => Ok(signed_in(&s, &signed, "/")),
        Err(e) => {
            let page = SetupPage {
                error: Some(describe(&e)),
                name: f.name,
                email: f.email,
                org_name: f.org_name,
                ..SetupPage::new(f.csrf_token)
            };
            Ok(failed(&page, &e))
        }
    }
}
