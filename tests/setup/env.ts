import { inject } from 'vitest';
import { resetSettingsForTests } from '../../shared/config/index.js';

// Workers may start before the global setup's environment reaches them: apply it explicitly.
Object.assign(process.env, inject('testSettings'));
resetSettingsForTests();
