/** The gradient doctor: rules over metrics records -> findings (a union tagged by `code`) with causes and ranked fixes. */
export {
  FINDING_CODES,
  VERDICTS,
  applyMergePatch,
  briefFindings,
  sortFindings,
  verdictOf,
  verdictOfFinding,
  type BriefFinding,
  type Finding,
  type FindingCode,
  type FindingOf,
  type Fix,
  type JsonObject,
  type JsonValue,
  type Severity,
  type Verdict,
  type Where,
} from './findings.js';
export {
  RULES,
  THRESHOLDS,
  judgedWindow,
  makeContext,
  runRules,
  type DoctorContext,
  type DoctorInput,
  type Rule,
} from './rules.js';
export {
  DoctorInputError,
  diagnose,
  diagnoseEvents,
  diagnoseMetricsFile,
  diagnoseOnline,
  diagnosePath,
  diagnoseRunDir,
  readMetricsText,
  type Diagnosis,
  type DoctorReport,
  type InputKind,
} from './diagnose.js';
export { eventsToRecords, type EventMapping } from './tensorboard.js';
export { formatDiagnosis, type FormatOptions } from './format.js';
export { modelFacts, describeModel, type ModelFacts } from './facts.js';
