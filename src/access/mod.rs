//! Who may use what: the applications (OAuth clients) and, in later versions, per-application
//! grants and the access-request queue.

pub mod clients;
