//! HTTP plumbing the front ends share: who the client is (address, user agent) and the cookies
//! of sessions and sign-ins.

pub mod client;
pub mod cookies;
