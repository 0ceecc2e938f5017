/** X's limits the emulator enforces, and the page's default text. */
export const maxRules = 1000;
export const maxRuleLength = 1024;
export const maxQueryLength = 512;
export const defaultHandPostText = '#orders {"id":"h1","status":"OPEN"}';
