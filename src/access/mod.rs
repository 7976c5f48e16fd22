//! Who may use what: applications (OAuth clients) and their access policy, per-application
//! grants, access requests and their review, dealerships, and staff roles.

pub mod client_cache;
pub mod clients;
pub mod grants;
pub mod orgs;
pub mod registrations;
pub mod requests;
pub mod routes;
pub mod staff;
pub mod terms;
