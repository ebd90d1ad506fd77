//! HTTP header names of the Invoke API and the Runtime API, as consts.

/// Invoke: `RequestResponse`, `Event` or `DryRun`.
pub const INVOCATION_TYPE: &str = "x-amz-invocation-type";
/// Invoke: `None` or `Tail`.
pub const LOG_TYPE: &str = "x-amz-log-type";
/// Invoke: base64 client context, passed to the runtime.
pub const CLIENT_CONTEXT: &str = "x-amz-client-context";
/// Invoke: the caller's X-Ray trace header.
pub const TRACE_ID: &str = "x-amzn-trace-id";
/// Invoke response: `Unhandled` or `Handled` when the function failed.
pub const FUNCTION_ERROR: &str = "x-amz-function-error";
/// Invoke response: base64 of the last 4 KB of the invocation's log.
pub const LOG_RESULT: &str = "x-amz-log-result";
/// Invoke response: the version that ran.
pub const EXECUTED_VERSION: &str = "x-amz-executed-version";
/// Every response: the error type, for botocore.
pub const ERROR_TYPE: &str = "x-amzn-errortype";
/// Every response: the request id.
pub const REQUEST_ID: &str = "x-amzn-requestid";

/// Runtime API: the invocation's request id.
pub const RUNTIME_REQUEST_ID: &str = "lambda-runtime-aws-request-id";
/// Runtime API: deadline in ms since the Unix epoch.
pub const RUNTIME_DEADLINE_MS: &str = "lambda-runtime-deadline-ms";
/// Runtime API: the ARN the caller invoked.
pub const RUNTIME_INVOKED_FUNCTION_ARN: &str = "lambda-runtime-invoked-function-arn";
/// Runtime API: the X-Ray trace header.
pub const RUNTIME_TRACE_ID: &str = "lambda-runtime-trace-id";
/// Runtime API: the decoded client context.
pub const RUNTIME_CLIENT_CONTEXT: &str = "lambda-runtime-client-context";
/// Runtime API: the Cognito identity.
pub const RUNTIME_COGNITO_IDENTITY: &str = "lambda-runtime-cognito-identity";
/// Runtime API: the error type a runtime reports with `/error` and `/init/error`.
pub const RUNTIME_FUNCTION_ERROR_TYPE: &str = "lambda-runtime-function-error-type";
/// Runtime API: the base64 error document a streaming response's trailers
/// carry with the error type, for an error met mid-stream.
pub const RUNTIME_FUNCTION_ERROR_BODY: &str = "lambda-runtime-function-error-body";
