//! authentik's wire format, as Django REST framework 3.14 and django-filter speak it: request
//! bodies read field by field, pagination, list query parameters, and Python-style JSON text.

pub mod body;
pub mod pagination;
pub mod pyjson;
pub mod query;

pub use body::{Body, Text};
