// The floors of the house, checked: typescript-eslint with type information, the layering rules (which folder may
// import which), no import circles, sorted imports; formatting is Prettier's (`npm run lint` runs both).
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import importX from 'eslint-plugin-import-x';
import simpleImportSort from 'eslint-plugin-simple-import-sort';
import tseslint from 'typescript-eslint';

/** Folders of src/ that are the domain: no Functions SDK, no local host, no composition root. */
const DOMAIN = [
  'collect',
  'customvision',
  'dataset',
  'image',
  'model',
  'onnx',
  'platform',
  'review',
  'serve',
  'storage',
  'train',
  'util',
];

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', '.cache/', '.azurite/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX, 'simple-import-sort': simpleImportSort },
    settings: { 'import-x/resolver': { node: { extensions: ['.ts', '.js', '.mjs', '.json'] } } },
    rules: {
      'simple-import-sort/imports': 'error',
      'simple-import-sort/exports': 'error',
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'import-x/no-self-import': 'error',
      'import-x/no-duplicates': 'error',
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: [
            {
              target: [
                ...DOMAIN.map((d) => `./src/${d}/**/*`),
                './src/config.ts',
                './src/errors.ts',
                './functions/**/*',
              ],
              from: './src/host',
              message:
                'only the local host and its entry points import src/host: it stands in for the Functions runtime',
            },
            {
              target: [...DOMAIN.map((d) => `./src/${d}/**/*`), './src/config.ts', './src/errors.ts'],
              from: './src/services.ts',
              message: 'the domain never imports the composition root; take what you need as an argument',
            },
            // The published model is the one contract between the rooms that write models and those that read them:
            // training writes, serving reads, neither imports the other, and review features sit above both.
            {
              target: './src/serve/**/*',
              from: ['./src/train', './src/review'],
              message: 'serving never imports the trainer: what it needs of a model is in src/model',
            },
            {
              target: './src/train/**/*',
              from: ['./src/serve', './src/review'],
              message: 'training never imports serving: it writes models through src/model',
            },
            {
              target: './src/model/**/*',
              from: ['./src/train', './src/serve', './src/review'],
              message: 'src/model is the contract below training and serving: it imports neither',
            },
            {
              target: ['./src/config.ts', './src/platform/**/*'],
              from: ['./src/train', './src/serve', './src/review', './src/model'],
              message:
                'configuration reads names from leaves below it (src/platform), never from the rooms it configures',
            },
            {
              target: './src/image/**/*',
              from: './src',
              except: ['./image', './util', './errors.ts'],
              message: 'image/ imports nothing above it (only util/ and errors.ts)',
            },
            {
              target: ['./src/**/*', './functions/**/*'],
              from: ['./test', './bench'],
              message: 'production code never imports tests or benchmarks',
            },
          ],
        },
      ],
      // An async method that does not await still honours an interface that returns a promise.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      // Template literals of numbers and the like are how messages are built here.
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true, allowNullish: true },
      ],
    },
  },
  {
    files: DOMAIN.map((d) => `src/${d}/**/*.ts`).concat(['src/config.ts', 'src/errors.ts']),
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: '@azure/functions',
              message: 'the domain never imports @azure/functions: that is the edge (functions/, src/api/)',
            },
          ],
        },
      ],
    },
  },
  {
    // Tests state expectations with vitest's asymmetric matchers (typed any) and pass methods to expect().
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  {
    // The trainer process's entry point composes the services, as the CLI and the local host do.
    files: ['src/train/main.ts'],
    rules: { 'import-x/no-restricted-paths': 'off' },
  },
  {
    files: ['**/*.mjs', '**/*.js', '**/*.mts'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: {
        process: 'readonly',
        console: 'readonly',
        URL: 'readonly',
        Buffer: 'readonly',
        require: 'readonly',
        module: 'writable',
        __dirname: 'readonly',
      },
    },
  },
  {
    // The icf command is a plain CommonJS script: it requires the compiled CLI from dist/.
    files: ['bin/icf.js'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  prettier,
);
