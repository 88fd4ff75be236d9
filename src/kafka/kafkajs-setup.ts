/**
 * Imported ahead of kafkajs (first import of ./client.ts, the one module that loads kafkajs): puts
 * ./produce.ts's producer internals in kafkajs' module cache before kafkajs binds them.
 */
import { installProducerInternals } from './produce.js';

installProducerInternals();
