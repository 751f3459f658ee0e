// The linter of `npm test` (and so of CI): typescript-eslint's type-checked rules, with the ones
// that catch what review keeps finding by hand: promises nobody handles, and code nobody uses.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        project: ['./tsconfig.test.json', './tsconfig.web.json', './src/web/admin/tsconfig.json'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-unused-private-class-members': 'error',
      // One Session serves every socket: its listeners need both the socket (`this`) and the session.
      '@typescript-eslint/no-this-alias': ['error', { allowedNames: ['session'] }],
    },
  },
  {
    // Plain scripts that node runs without a build: outside the TypeScript projects.
    files: ['scripts/**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // chai's assertions are property reads: `expect(x).to.be.empty`.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-unused-expressions': 'off' },
  },
);
