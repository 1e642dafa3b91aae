// Types for the generated validator (schemas/inventory.validate.mjs).
import type { ErrorObject } from 'ajv'
export interface GeneratedValidator {
  (data: unknown): boolean
  errors?: ErrorObject[] | null
}
export const validate: GeneratedValidator
export default validate
