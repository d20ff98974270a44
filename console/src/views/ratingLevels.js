// The five levels of 政务服务"好差评" (docs/reports.md): the API's word and the
// locale key under rating.levels, for the window's and the applicant's rating pages.
export const ratingLevels = [
  { word: 'very_satisfied', key: 'verySatisfied' },
  { word: 'satisfied', key: 'satisfied' },
  { word: 'basically_satisfied', key: 'basicallySatisfied' },
  { word: 'dissatisfied', key: 'dissatisfied' },
  { word: 'very_dissatisfied', key: 'veryDissatisfied' },
]
