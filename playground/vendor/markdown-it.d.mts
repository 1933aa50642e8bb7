// The build copies markdown-it's browser bundle here as markdown-it.mjs; its types are the package's.
export { default } from 'markdown-it';
