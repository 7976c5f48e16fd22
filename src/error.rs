//! Errors for HTML pages. A handler returns `AppError`; the response carries an `ErrorPage`
//! extension and the `web::pages` middleware renders it with the request id, so handlers
//! never format error HTML and internal details never reach the browser.

use std::borrow::Cow;

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};

#[derive(Debug)]
pub enum AppError {
    BadRequest(Cow<'static, str>),
    NotFound,
    Internal(anyhow::Error),
}

/// What the error page shows; attached to the response for the rendering middleware.
#[derive(Clone, Debug)]
pub struct ErrorPage {
    pub status: StatusCode,
    pub title: Cow<'static, str>,
    pub message: Cow<'static, str>,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let page = match self {
            AppError::BadRequest(m) => ErrorPage {
                status: StatusCode::BAD_REQUEST,
                title: "Something is wrong with this request".into(),
                message: m,
            },
            AppError::NotFound => ErrorPage {
                status: StatusCode::NOT_FOUND,
                title: "Page not found".into(),
                message: "There is nothing at this address.".into(),
            },
            AppError::Internal(e) if crate::store::db::is_unavailable_in(&e) => {
                tracing::error!(error = %e, "database unavailable");
                let mut r = ErrorPage {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    title: "This service is temporarily unavailable".into(),
                    message: "We cannot reach our records right now. Nothing you entered was saved. Please try again in a few moments.".into(),
                }
                .into_response();
                crate::web::telemetry::mark_database_unavailable(&mut r);
                return r;
            }
            AppError::Internal(e) => {
                tracing::error!(error = %e, "internal error");
                ErrorPage {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    title: "Something went wrong on our side".into(),
                    message: "Please try again in a moment. If it keeps happening, contact the help desk and quote the reference below.".into(),
                }
            }
        };
        page.into_response()
    }
}

impl IntoResponse for ErrorPage {
    fn into_response(self) -> Response {
        let mut r = self.status.into_response();
        r.extensions_mut().insert(self);
        r
    }
}

impl<E: Into<anyhow::Error>> From<E> for AppError {
    fn from(e: E) -> Self {
        AppError::Internal(e.into())
    }
}
