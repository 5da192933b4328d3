// Every span attribute name pidbox sets, in one place. Standard names come from the semantic
// conventions package (FaaS, messaging and process are still "incubating" there); pidbox's own
// carry the `pidbox.` prefix.
export {
  ATTR_CLIENT_ADDRESS,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_METHOD_ORIGINAL,
  ATTR_HTTP_REQUEST_RESEND_COUNT,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_NETWORK_PEER_ADDRESS,
  ATTR_NETWORK_PEER_PORT,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_SERVICE_NAME,
  ATTR_SERVICE_VERSION,
  ATTR_URL_FULL,
  ATTR_URL_PATH,
  ATTR_URL_QUERY,
  ATTR_URL_SCHEME,
  ATTR_USER_AGENT_ORIGINAL,
} from '@opentelemetry/semantic-conventions';
export {
  ATTR_FAAS_COLDSTART,
  ATTR_FAAS_INVOCATION_ID,
  ATTR_FAAS_INVOKED_NAME,
  ATTR_FAAS_NAME,
  ATTR_FAAS_TRIGGER,
  ATTR_MESSAGING_BATCH_MESSAGE_COUNT,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_MESSAGE_ID,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
  ATTR_PROCESS_EXIT_CODE,
  ATTR_PROCESS_PID,
  ATTR_PROCESS_VPID,
  ATTR_SERVICE_INSTANCE_ID,
} from '@opentelemetry/semantic-conventions/incubating';

export const ATTR_PIDBOX_PID_NAMESPACE = 'pidbox.sandbox.pid_namespace';
export const ATTR_PIDBOX_ZOMBIES_REAPED = 'pidbox.sandbox.zombies_reaped';
export const ATTR_PIDBOX_PEAK_PROCESSES = 'pidbox.sandbox.peak_processes';
export const ATTR_PIDBOX_CPU_MS = 'pidbox.sandbox.cpu_ms';
export const ATTR_PIDBOX_MEMORY_PEAK_BYTES = 'pidbox.sandbox.memory_peak_bytes';
export const ATTR_PIDBOX_EXIT_SIGNAL = 'pidbox.exit.signal';
export const ATTR_PIDBOX_STATUS = 'pidbox.invocation.status';
export const ATTR_PIDBOX_ATTEMPT = 'pidbox.invocation.attempt';
export const ATTR_PIDBOX_BATCH_ID = 'pidbox.batch.id';
export const ATTR_PIDBOX_RUNTIME = 'pidbox.function.runtime';
