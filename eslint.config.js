// Lint rules that need types (the compiler's own checks run in `npm run typecheck`): promises
// that nobody awaits or that land where a void callback is expected, switches that miss a case,
// and import cycles. typescript-eslint reads the program through TypeScript 6.0 (7.x has no JS
// compiler API), which is also what `tsc` runs.
import js from '@eslint/js';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import importX from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'coverage/', 'dist/', 'test/artifacts/', 'views/', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  {
    files: ['src/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.base],
    plugins: { 'import-x': importX },
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    // Resolves our `./x.js` specifiers to the `./x.ts` files, as TypeScript does.
    settings: { 'import-x/resolver-next': [createTypeScriptImportResolver()] },
    rules: {
      // TypeScript checks these better (and knows the globals).
      'no-undef': 'off',
      'no-unused-vars': 'off',
      'no-redeclare': 'off',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      'import-x/no-cycle': 'error',
      // Our errors are messages for operators that restate what went wrong; a cause chain would
      // print it twice (pino joins the messages of causes) and may quote a secret setting's value.
      'preserve-caught-error': 'off',
    },
  },
);
