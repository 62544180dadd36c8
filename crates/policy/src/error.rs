//! Errors from loading policies. Evaluation never errors: it returns a deny decision.

/// A policy or schema could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file failed to parse or validate; `location` is `file:line:column`.
    #[error("{location}: {message}")]
    Invalid {
        /// `file:line:column` of the problem.
        location: String,
        /// What is wrong, in Cedar's words.
        message: String,
    },
    /// Two policies share an id.
    #[error("policy id `{id}` is used twice: in {first} and in {second}")]
    DuplicateId {
        /// The repeated id.
        id: String,
        /// Where it is first defined.
        first: String,
        /// Where it is defined again.
        second: String,
    },
    /// Entity data (agent attributes) does not match the schema.
    #[error("agent `{agent}` does not match the schema: {message}")]
    Entity {
        /// The agent id.
        agent: String,
        /// What does not match.
        message: String,
    },
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;
