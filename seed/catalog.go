package main

// This file holds the read-only tables the generator draws from. They are never
// written after initialisation.

// span is an inclusive range of integers.
type span struct{ lo, hi int }

// tempSpan is an inclusive range of body temperatures in °C.
type tempSpan struct{ lo, hi float64 }

// question is something asked at a visit, with the answers patients give.
type question struct {
	ask     string
	answers []string
}

// ailment describes a reason for a visit: what patients report, how their vitals
// look, and what the physician orders.
type ailment struct {
	name     string
	symptoms []string
	// labels are lower-case tags, as the API stores them.
	labels []string
	// chronic ailments are also pre-existing conditions; condition is the name used
	// in a patient's record.
	chronic   bool
	condition string
	// minAge is the youngest age at which the ailment is drawn.
	minAge int

	temp      tempSpan
	systolic  span
	diastolic span
	heartRate span
	spo2      span
	// ecg, when set, is the ECG finding whatever the heart rate; otherwise the
	// finding follows the rate (normal, sinus tachycardia or bradycardia).
	ecg []string
	// glucose, when set, adds a blood glucose reading in mg/dL.
	glucose *span

	questions []question
	// meds are prescriptions with doses; for chronic ailments the first ones are the
	// usual long-term medication.
	meds  []string
	tests []string
	// specialist is referred to with probability referral.
	specialist string
	referral   float64
	// status is the range of health_status (1 poor to 10 good).
	status span
	// followUp is the range of days until the next visit.
	followUp span
	remarks  []string
}

// Questions shared by several ailments: how long an acute or a longer-standing
// complaint has lasted, and, at follow-ups of chronic conditions, adherence.
var (
	sinceShort = question{ask: "since", answers: []string{"1 day", "2 days", "3 days", "4 days", "about a week"}}
	sinceLong  = question{ask: "since", answers: []string{"2 weeks", "3 weeks", "4 weeks", "2 months", "several months"}}
	adherence  = question{ask: "takes medication as prescribed", answers: []string{
		"yes", "yes, daily", "mostly, misses a dose now and then", "stopped two weeks ago because of side effects",
	}}
)

// ailments is the catalogue of visit reasons.
var ailments = []ailment{
	{
		name:      "Influenza",
		symptoms:  []string{"sudden fever above 38°C", "muscle aches", "dry cough", "chills", "headache", "fatigue"},
		labels:    []string{"fever", "respiratory", "infection"},
		temp:      tempSpan{38.0, 39.8},
		systolic:  span{105, 130},
		diastolic: span{65, 85},
		heartRate: span{88, 118},
		spo2:      span{94, 98},
		questions: []question{
			sinceShort,
			{ask: "contact with sick people", answers: []string{"yes, a family member", "yes, at work", "no", "not that I know of"}},
			{ask: "vaccinated against influenza this season", answers: []string{"yes", "no"}},
		},
		meds:     []string{"Oseltamivir 75mg twice daily for 5 days", "Paracetamol 500mg up to 4 times daily", "Ibuprofen 400mg up to 3 times daily"},
		tests:    []string{"Influenza A/B rapid antigen test", "CBC"},
		status:   span{3, 6},
		followUp: span{5, 10},
		remarks:  []string{"advised bed rest and plenty of fluids", "sick note for one week", "return earlier if breathing becomes difficult"},
	},
	{
		name:      "Common cold",
		symptoms:  []string{"runny nose", "sore throat", "sneezing", "mild cough", "blocked nose"},
		labels:    []string{"cold", "respiratory"},
		temp:      tempSpan{36.6, 37.8},
		systolic:  span{110, 130},
		diastolic: span{70, 85},
		heartRate: span{65, 90},
		spo2:      span{96, 99},
		questions: []question{sinceShort, {ask: "fever at home", answers: []string{"no", "slightly raised in the evening"}}},
		meds:      []string{"Xylometazoline 0.1% nasal spray up to 3 times daily for 5 days", "Paracetamol 500mg as needed", "Saline nasal rinse 250ml twice daily"},
		status:    span{6, 8},
		followUp:  span{7, 14},
		remarks:   []string{"self-limiting, symptomatic treatment", "return if symptoms last beyond 10 days"},
	},
	{
		name:      "Acute bronchitis",
		symptoms:  []string{"productive cough", "chest tightness", "wheezing", "mild fever", "fatigue"},
		labels:    []string{"respiratory", "cough"},
		temp:      tempSpan{37.0, 38.3},
		systolic:  span{110, 135},
		diastolic: span{70, 85},
		heartRate: span{70, 98},
		spo2:      span{94, 98},
		questions: []question{
			sinceLong,
			{ask: "smoker", answers: []string{"yes", "no", "former smoker"}},
			{ask: "sputum colour", answers: []string{"clear", "yellowish", "greenish"}},
		},
		meds:     []string{"Ambroxol 30mg three times daily", "Salbutamol inhaler 100mcg 2 puffs as needed", "Paracetamol 500mg as needed"},
		tests:    []string{"Chest X-ray", "CRP"},
		status:   span{5, 7},
		followUp: span{10, 21},
		remarks:  []string{"no signs of pneumonia on auscultation", "advised to stop smoking"},
	},
	{
		name:      "Community-acquired pneumonia",
		symptoms:  []string{"high fever", "productive cough", "shortness of breath", "pleuritic chest pain", "chills"},
		labels:    []string{"fever", "respiratory", "infection"},
		temp:      tempSpan{38.3, 40.0},
		systolic:  span{100, 130},
		diastolic: span{60, 80},
		heartRate: span{96, 122},
		spo2:      span{89, 94},
		questions: []question{
			sinceShort,
			{ask: "shortness of breath on exertion", answers: []string{"yes, after one flight of stairs", "yes, even at rest", "slight"}},
		},
		meds:       []string{"Amoxicillin 1g three times daily for 7 days", "Paracetamol 1g up to 3 times daily"},
		tests:      []string{"Chest X-ray", "CRP", "CBC", "Blood cultures"},
		specialist: "pulmonologist",
		referral:   0.3,
		status:     span{2, 4},
		followUp:   span{2, 5},
		remarks:    []string{"crackles over the right lower lobe", "outpatient treatment, close follow-up", "admission discussed and declined"},
	},
	{
		name:      "Asthma",
		symptoms:  []string{"wheezing", "shortness of breath", "night-time cough", "chest tightness"},
		labels:    []string{"respiratory", "chronic"},
		chronic:   true,
		condition: "Asthma",
		temp:      tempSpan{36.4, 37.2},
		systolic:  span{105, 130},
		diastolic: span{65, 85},
		heartRate: span{70, 104},
		spo2:      span{92, 98},
		questions: []question{
			adherence,
			{ask: "night-time symptoms per week", answers: []string{"none", "one night", "two or three nights", "almost every night"}},
			{ask: "reliever use per week", answers: []string{"not at all", "once or twice", "daily"}},
		},
		meds:       []string{"Budesonide/formoterol 160/4.5mcg 1 puff twice daily", "Salbutamol inhaler 100mcg 2 puffs as needed", "Montelukast 10mg once daily"},
		tests:      []string{"Spirometry", "Peak flow diary", "FeNO"},
		specialist: "pulmonologist",
		referral:   0.15,
		status:     span{5, 8},
		followUp:   span{60, 120},
		remarks:    []string{"inhaler technique checked", "asthma well controlled", "step-up of controller therapy"},
	},
	{
		name:      "Hypertension",
		symptoms:  []string{"morning headache", "dizziness", "no complaints (routine check)", "blurred vision"},
		labels:    []string{"cardio", "chronic"},
		chronic:   true,
		condition: "Hypertension",
		minAge:    30,
		temp:      tempSpan{36.3, 37.1},
		systolic:  span{138, 172},
		diastolic: span{86, 104},
		heartRate: span{62, 90},
		spo2:      span{95, 99},
		questions: []question{
			adherence,
			{ask: "home blood pressure readings", answers: []string{"mostly around 140/90", "often above 150/95", "within target"}},
			{ask: "salt intake", answers: []string{"reduced", "unchanged", "high"}},
		},
		meds:       []string{"Amlodipine 5mg once daily", "Ramipril 5mg once daily", "Hydrochlorothiazide 12.5mg once daily", "Candesartan 8mg once daily"},
		tests:      []string{"Lipid panel", "Creatinine and eGFR", "ECG", "Urine albumin"},
		specialist: "cardiologist",
		referral:   0.1,
		status:     span{5, 8},
		followUp:   span{28, 90},
		remarks:    []string{"blood pressure above target, dose increased", "lifestyle advice given", "home measurements to be brought next time"},
	},
	{
		name:      "Type 2 diabetes mellitus",
		symptoms:  []string{"increased thirst", "frequent urination", "fatigue", "no complaints (routine check)", "tingling in the feet"},
		labels:    []string{"endocrine", "chronic"},
		chronic:   true,
		condition: "Type 2 diabetes",
		minAge:    30,
		temp:      tempSpan{36.3, 37.1},
		systolic:  span{120, 150},
		diastolic: span{75, 92},
		heartRate: span{64, 92},
		spo2:      span{95, 99},
		glucose:   &span{110, 240},
		questions: []question{
			adherence,
			{ask: "hypoglycaemia episodes", answers: []string{"none", "one mild episode", "several"}},
			{ask: "diet", answers: []string{"following the plan", "struggling with it"}},
		},
		meds:       []string{"Metformin 1000mg twice daily", "Empagliflozin 10mg once daily", "Sitagliptin 100mg once daily"},
		tests:      []string{"HbA1c", "Creatinine and eGFR", "Urine albumin", "Lipid panel", "Foot examination"},
		specialist: "ophthalmologist",
		referral:   0.2,
		status:     span{5, 8},
		followUp:   span{60, 120},
		remarks:    []string{"HbA1c above target", "diet counselling arranged", "annual eye check due"},
	},
	{
		name:      "Atrial fibrillation",
		symptoms:  []string{"palpitations", "irregular heartbeat", "shortness of breath on exertion", "fatigue"},
		labels:    []string{"cardio", "chronic"},
		chronic:   true,
		condition: "Atrial fibrillation",
		minAge:    50,
		temp:      tempSpan{36.3, 37.1},
		systolic:  span{115, 150},
		diastolic: span{70, 92},
		heartRate: span{78, 132},
		spo2:      span{93, 98},
		ecg:       []string{"Atrial fibrillation"},
		questions: []question{
			adherence,
			{ask: "bleeding", answers: []string{"none", "occasional nosebleeds", "bruises easily"}},
		},
		meds:       []string{"Apixaban 5mg twice daily", "Bisoprolol 2.5mg once daily", "Metoprolol succinate 47.5mg once daily"},
		tests:      []string{"ECG", "Echocardiogram", "TSH", "Creatinine and eGFR"},
		specialist: "cardiologist",
		referral:   0.4,
		status:     span{4, 7},
		followUp:   span{30, 90},
		remarks:    []string{"rate control adequate", "anticoagulation continued", "CHA2DS2-VASc reviewed"},
	},
	{
		name:      "Stable angina",
		symptoms:  []string{"chest pressure on exertion", "shortness of breath on exertion", "pain radiating to the left arm"},
		labels:    []string{"cardio", "pain"},
		minAge:    45,
		temp:      tempSpan{36.3, 37.1},
		systolic:  span{125, 160},
		diastolic: span{78, 96},
		heartRate: span{60, 92},
		spo2:      span{94, 99},
		ecg:       []string{"Normal", "ST depression in V4-V6", "Left ventricular hypertrophy"},
		questions: []question{
			sinceLong,
			{ask: "pain at rest", answers: []string{"no", "once"}},
			{ask: "how far can you walk", answers: []string{"about 500 m", "one flight of stairs", "unlimited on the flat"}},
		},
		meds:       []string{"Glyceryl trinitrate spray 0.4mg as needed", "Aspirin 100mg once daily", "Atorvastatin 40mg once daily", "Bisoprolol 5mg once daily"},
		tests:      []string{"Troponin", "Exercise ECG", "Lipid panel", "Echocardiogram"},
		specialist: "cardiologist",
		referral:   0.7,
		status:     span{4, 6},
		followUp:   span{7, 21},
		remarks:    []string{"urgent cardiology referral", "advised to call emergency services if pain lasts over 15 minutes"},
	},
	{
		name:      "Acute gastroenteritis",
		symptoms:  []string{"diarrhoea", "vomiting", "stomach cramps", "nausea", "mild fever"},
		labels:    []string{"gut", "infection"},
		temp:      tempSpan{37.0, 38.6},
		systolic:  span{98, 122},
		diastolic: span{60, 78},
		heartRate: span{80, 110},
		spo2:      span{96, 99},
		questions: []question{
			sinceShort,
			{ask: "able to keep fluids down", answers: []string{"yes", "barely", "no"}},
			{ask: "others affected", answers: []string{"no", "yes, the children too"}},
		},
		meds:     []string{"Oral rehydration salts 200ml after each loose stool", "Loperamide 2mg after each loose stool, max 12mg daily", "Metoclopramide 10mg up to 3 times daily"},
		tests:    []string{"Stool culture", "Electrolytes"},
		status:   span{4, 7},
		followUp: span{3, 7},
		remarks:  []string{"mild dehydration", "advised small frequent sips of fluid"},
	},
	{
		name:       "Gastro-oesophageal reflux disease",
		symptoms:   []string{"heartburn", "acid regurgitation", "upper abdominal pain after meals", "hoarseness in the morning"},
		labels:     []string{"gut", "chronic"},
		chronic:    true,
		condition:  "GERD",
		minAge:     18,
		temp:       tempSpan{36.3, 37.1},
		systolic:   span{110, 140},
		diastolic:  span{70, 88},
		heartRate:  span{60, 88},
		spo2:       span{96, 99},
		questions:  []question{adherence, {ask: "symptoms at night", answers: []string{"no", "sometimes", "most nights"}}},
		meds:       []string{"Pantoprazole 40mg once daily before breakfast", "Omeprazole 20mg once daily", "Alginate suspension 10ml after meals"},
		tests:      []string{"Helicobacter pylori breath test", "Upper GI endoscopy"},
		specialist: "gastroenterologist",
		referral:   0.15,
		status:     span{6, 8},
		followUp:   span{28, 90},
		remarks:    []string{"avoid late meals", "PPI to be tapered if symptom-free"},
	},
	{
		name:      "Irritable bowel syndrome",
		symptoms:  []string{"bloating", "alternating diarrhoea and constipation", "stomach cramps relieved by defecation"},
		labels:    []string{"gut", "chronic"},
		chronic:   true,
		condition: "Irritable bowel syndrome",
		minAge:    16,
		temp:      tempSpan{36.3, 37.1},
		systolic:  span{105, 135},
		diastolic: span{65, 85},
		heartRate: span{60, 88},
		spo2:      span{96, 99},
		questions: []question{
			sinceLong,
			{ask: "weight loss", answers: []string{"no", "no, stable"}},
			{ask: "stress", answers: []string{"high at work", "moderate", "low"}},
		},
		meds:       []string{"Mebeverine 135mg three times daily", "Psyllium husk 5g twice daily", "Peppermint oil capsules 0.2ml three times daily"},
		tests:      []string{"Faecal calprotectin", "CBC", "Coeliac serology"},
		specialist: "gastroenterologist",
		referral:   0.1,
		status:     span{5, 8},
		followUp:   span{42, 120},
		remarks:    []string{"no alarm features", "food and symptom diary recommended"},
	},
	{
		name:      "Urinary tract infection",
		symptoms:  []string{"burning on urination", "frequent urination", "lower abdominal pain", "cloudy urine"},
		labels:    []string{"urinary", "infection"},
		minAge:    5,
		temp:      tempSpan{36.6, 38.2},
		systolic:  span{105, 135},
		diastolic: span{65, 85},
		heartRate: span{68, 96},
		spo2:      span{96, 99},
		questions: []question{
			sinceShort,
			{ask: "flank pain", answers: []string{"no", "slight on the right"}},
			{ask: "previous infections this year", answers: []string{"none", "one", "two"}},
		},
		meds:     []string{"Nitrofurantoin 100mg twice daily for 5 days", "Fosfomycin 3g single dose", "Ibuprofen 400mg as needed"},
		tests:    []string{"Urinalysis", "Urine culture"},
		status:   span{5, 7},
		followUp: span{5, 10},
		remarks:  []string{"uncomplicated cystitis", "increase fluid intake"},
	},
	{
		name:      "Migraine",
		symptoms:  []string{"throbbing one-sided headache", "nausea", "sensitivity to light", "visual aura"},
		labels:    []string{"neuro", "pain"},
		minAge:    10,
		temp:      tempSpan{36.3, 37.1},
		systolic:  span{105, 135},
		diastolic: span{65, 85},
		heartRate: span{60, 90},
		spo2:      span{96, 99},
		questions: []question{
			{ask: "attacks per month", answers: []string{"one or two", "about four", "more than eight"}},
			{ask: "triggers", answers: []string{"lack of sleep", "menstruation", "red wine", "none known"}},
		},
		meds:       []string{"Sumatriptan 50mg at onset, max 2 doses daily", "Ibuprofen 400mg at onset", "Metoprolol 50mg once daily as prophylaxis"},
		tests:      []string{"Headache diary"},
		specialist: "neurologist",
		referral:   0.2,
		status:     span{4, 7},
		followUp:   span{28, 90},
		remarks:    []string{"no red flags on neurological examination", "limit painkillers to 10 days a month"},
	},
	{
		name:      "Low back pain",
		symptoms:  []string{"lower back pain", "stiffness in the morning", "pain radiating to the buttock", "pain when bending"},
		labels:    []string{"musculoskeletal", "pain"},
		minAge:    16,
		temp:      tempSpan{36.3, 37.1},
		systolic:  span{110, 140},
		diastolic: span{70, 88},
		heartRate: span{60, 90},
		spo2:      span{96, 99},
		questions: []question{
			sinceShort,
			{ask: "numbness or weakness in the legs", answers: []string{"no", "no, pain only"}},
			{ask: "work", answers: []string{"desk job", "lifts heavy loads", "retired"}},
		},
		meds:       []string{"Ibuprofen 400mg three times daily for 7 days", "Diclofenac gel 1% three times daily", "Methocarbamol 750mg three times daily"},
		tests:      []string{"Lumbar spine X-ray"},
		specialist: "physiotherapist",
		referral:   0.5,
		status:     span{5, 7},
		followUp:   span{10, 28},
		remarks:    []string{"no red flags", "advised to stay active"},
	},
	{
		name:      "Osteoarthritis of the knee",
		symptoms:  []string{"knee pain on walking", "morning stiffness under 30 minutes", "swelling of the knee", "crepitus"},
		labels:    []string{"musculoskeletal", "chronic", "pain"},
		chronic:   true,
		condition: "Osteoarthritis",
		minAge:    45,
		temp:      tempSpan{36.3, 37.1},
		systolic:  span{120, 150},
		diastolic: span{75, 92},
		heartRate: span{60, 88},
		spo2:      span{95, 99},
		questions: []question{
			adherence,
			{ask: "walking distance", answers: []string{"about 1 km", "a few hundred metres", "unlimited but painful"}},
		},
		meds:       []string{"Ibuprofen 400mg as needed, max 3 times daily", "Diclofenac gel 1% three times daily", "Paracetamol 1g up to 3 times daily"},
		tests:      []string{"Knee X-ray"},
		specialist: "orthopedist",
		referral:   0.25,
		status:     span{5, 7},
		followUp:   span{60, 150},
		remarks:    []string{"weight reduction and exercise advised", "physiotherapy prescribed"},
	},
	{
		name:      "Atopic dermatitis",
		symptoms:  []string{"itchy rash", "dry skin", "red patches in the elbow creases", "scratching at night"},
		labels:    []string{"skin", "chronic"},
		chronic:   true,
		condition: "Atopic dermatitis",
		temp:      tempSpan{36.3, 37.1},
		systolic:  span{100, 130},
		diastolic: span{60, 82},
		heartRate: span{62, 92},
		spo2:      span{96, 99},
		questions: []question{
			sinceLong,
			{ask: "itch at night", answers: []string{"no", "sometimes", "every night"}},
			{ask: "new soaps or detergents", answers: []string{"no", "yes, changed detergent"}},
		},
		meds:       []string{"Emollient cream with 5% urea twice daily", "Hydrocortisone 1% cream twice daily for 7 days", "Mometasone 0.1% cream once daily for 14 days"},
		tests:      []string{"Total IgE"},
		specialist: "dermatologist",
		referral:   0.25,
		status:     span{6, 8},
		followUp:   span{28, 90},
		remarks:    []string{"flare on both forearms", "skin care routine explained"},
	},
	{
		name:      "Contact dermatitis",
		symptoms:  []string{"rash", "itching", "irritation", "blisters where the skin touched the material"},
		labels:    []string{"skin", "allergy"},
		temp:      tempSpan{36.3, 37.2},
		systolic:  span{105, 135},
		diastolic: span{65, 85},
		heartRate: span{60, 90},
		spo2:      span{96, 99},
		questions: []question{
			sinceShort,
			{ask: "new jewellery, cosmetics or gloves", answers: []string{"yes, a new watch strap", "yes, latex gloves at work", "no"}},
		},
		meds:       []string{"Hydrocortisone 1% cream twice daily for 7 days", "Cetirizine 10mg once daily"},
		tests:      []string{"Patch test"},
		specialist: "dermatologist",
		referral:   0.2,
		status:     span{6, 8},
		followUp:   span{10, 21},
		remarks:    []string{"avoid the suspected trigger", "likely nickel allergy"},
	},
	{
		name:      "Allergic rhinitis",
		symptoms:  []string{"sneezing", "itchy eyes", "runny nose", "blocked nose"},
		labels:    []string{"allergy", "respiratory"},
		minAge:    4,
		temp:      tempSpan{36.3, 37.1},
		systolic:  span{105, 130},
		diastolic: span{65, 85},
		heartRate: span{60, 88},
		spo2:      span{96, 99},
		questions: []question{
			{ask: "season", answers: []string{"spring", "summer", "all year"}},
			{ask: "pets at home", answers: []string{"no", "a cat", "a dog"}},
		},
		meds:       []string{"Cetirizine 10mg once daily", "Fluticasone nasal spray 50mcg 2 sprays daily", "Olopatadine 0.1% eye drops twice daily"},
		tests:      []string{"Skin prick test", "Specific IgE"},
		specialist: "allergist",
		referral:   0.3,
		status:     span{6, 9},
		followUp:   span{28, 120},
		remarks:    []string{"probable grass pollen allergy", "immunotherapy discussed"},
	},
	{
		name:      "Depression",
		symptoms:  []string{"low mood", "loss of interest", "poor sleep", "fatigue", "poor concentration"},
		labels:    []string{"mental-health", "chronic"},
		chronic:   true,
		condition: "Depression",
		minAge:    14,
		temp:      tempSpan{36.3, 37.1},
		systolic:  span{105, 135},
		diastolic: span{65, 85},
		heartRate: span{60, 90},
		spo2:      span{96, 99},
		questions: []question{
			adherence,
			{ask: "thoughts of self-harm", answers: []string{"no", "denies"}},
			{ask: "sleep", answers: []string{"improving", "wakes early", "poor"}},
		},
		meds:       []string{"Sertraline 50mg once daily", "Escitalopram 10mg once daily", "Mirtazapine 15mg at night"},
		tests:      []string{"PHQ-9", "TSH"},
		specialist: "psychiatrist",
		referral:   0.3,
		status:     span{3, 7},
		followUp:   span{14, 42},
		remarks:    []string{"PHQ-9 score improving", "psychotherapy referral made", "safety plan discussed"},
	},
	{
		name:       "Hypothyroidism",
		symptoms:   []string{"fatigue", "weight gain", "feeling cold", "dry skin", "no complaints (routine check)"},
		labels:     []string{"endocrine", "chronic"},
		chronic:    true,
		condition:  "Hypothyroidism",
		minAge:     18,
		temp:       tempSpan{36.0, 36.9},
		systolic:   span{110, 140},
		diastolic:  span{70, 88},
		heartRate:  span{54, 72},
		spo2:       span{96, 99},
		questions:  []question{adherence, {ask: "energy", answers: []string{"better", "unchanged", "still tired"}}},
		meds:       []string{"Levothyroxine 50mcg once daily before breakfast", "Levothyroxine 75mcg once daily before breakfast", "Levothyroxine 100mcg once daily before breakfast"},
		tests:      []string{"TSH", "Free T4"},
		specialist: "endocrinologist",
		referral:   0.1,
		status:     span{6, 8},
		followUp:   span{42, 180},
		remarks:    []string{"TSH within range", "dose adjusted"},
	},
	{
		name:      "Iron deficiency anaemia",
		symptoms:  []string{"fatigue", "pale skin", "shortness of breath on exertion", "brittle nails"},
		labels:    []string{"blood"},
		minAge:    12,
		temp:      tempSpan{36.3, 37.0},
		systolic:  span{100, 125},
		diastolic: span{60, 80},
		heartRate: span{78, 106},
		spo2:      span{96, 99},
		questions: []question{
			sinceLong,
			{ask: "heavy periods or blood in stool", answers: []string{"no", "heavy periods"}},
			{ask: "diet", answers: []string{"vegetarian", "mixed"}},
		},
		meds:     []string{"Ferrous sulfate 200mg once daily", "Vitamin C 500mg with the iron tablet"},
		tests:    []string{"CBC", "Ferritin", "Faecal occult blood test"},
		status:   span{5, 7},
		followUp: span{28, 60},
		remarks:  []string{"haemoglobin mildly reduced", "recheck blood count in 4 weeks"},
	},
	{
		name:      "Acute sinusitis",
		symptoms:  []string{"facial pain", "blocked nose", "thick nasal discharge", "headache worse when bending forward"},
		labels:    []string{"respiratory", "infection"},
		minAge:    5,
		temp:      tempSpan{36.8, 38.2},
		systolic:  span{105, 135},
		diastolic: span{65, 85},
		heartRate: span{64, 94},
		spo2:      span{96, 99},
		questions: []question{sinceShort, {ask: "tooth pain", answers: []string{"no", "upper teeth ache"}}},
		meds:      []string{"Xylometazoline 0.1% nasal spray up to 3 times daily for 5 days", "Ibuprofen 400mg up to 3 times daily", "Amoxicillin 500mg three times daily for 7 days"},
		status:    span{5, 7},
		followUp:  span{7, 14},
		remarks:   []string{"antibiotics only if no improvement in 7 days", "steam inhalation advised"},
	},
	{
		name:      "COVID-19",
		symptoms:  []string{"fever", "dry cough", "loss of smell", "sore throat", "fatigue"},
		labels:    []string{"fever", "respiratory", "infection"},
		temp:      tempSpan{37.6, 39.4},
		systolic:  span{105, 135},
		diastolic: span{65, 85},
		heartRate: span{80, 112},
		spo2:      span{93, 98},
		questions: []question{
			sinceShort,
			{ask: "rapid test at home", answers: []string{"positive", "not done"}},
			{ask: "vaccinated", answers: []string{"yes, boosted", "yes, two doses", "no"}},
		},
		meds:     []string{"Paracetamol 500mg up to 4 times daily", "Ibuprofen 400mg up to 3 times daily"},
		tests:    []string{"SARS-CoV-2 PCR", "Pulse oximetry at home"},
		status:   span{4, 7},
		followUp: span{5, 10},
		remarks:  []string{"isolation advice given", "return if oxygen saturation drops below 94%"},
	},
}

// genericRemarks are remarks that fit any visit.
var genericRemarks = []string{
	"visited other specialists",
	"follow-up if symptoms persist",
	"patient informed about warning signs",
	"results discussed with the patient",
}

// firstNames holds typical first names by sex ("M", "F").
var firstNames = map[string][]string{
	"M": {"Vernon", "Lukas", "Jonas", "Felix", "Maximilian", "Paul", "Leon", "David", "Thomas", "Michael", "Stefan", "Ahmet", "Mehmet", "Piotr", "Luca", "Noah", "Elias", "Jan", "Andreas", "Jürgen", "Klaus", "Omar", "Marco", "Tobias"},
	"F": {"Beth", "Anna", "Sophie", "Marie", "Laura", "Julia", "Lena", "Emma", "Mia", "Sabine", "Petra", "Monika", "Ayşe", "Fatma", "Katarzyna", "Giulia", "Hannah", "Lea", "Clara", "Ursula", "Ingrid", "Leila", "Sara", "Nina"},
}

var lastNames = []string{
	"Lopez", "Martin", "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
	"Schulz", "Hoffmann", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz",
	"Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Yılmaz", "Kaya", "Nowak", "Kowalski",
	"Rossi", "Popescu", "Nguyen", "Haddad", "Jansen", "Keller",
}

var streets = []string{
	"Berliner Straße", "Bahnhofstraße", "Hauptstraße", "Lindenstraße", "Gartenstraße", "Schulstraße",
	"Kirchweg", "Am Markt", "Goethestraße", "Schillerstraße", "Friedrichstraße", "Mozartweg",
	"Rosenweg", "Parkallee", "Waldstraße", "Bergstraße", "Ringstraße", "Wilhelmstraße",
}

// towns pairs postcodes with towns.
var towns = []struct{ postcode, name string }{
	{"10115", "Berlin"}, {"10437", "Berlin"}, {"12043", "Berlin"}, {"20095", "Hamburg"}, {"22765", "Hamburg"},
	{"50667", "Köln"}, {"60311", "Frankfurt am Main"}, {"80331", "München"}, {"04109", "Leipzig"},
	{"01067", "Dresden"}, {"70173", "Stuttgart"}, {"30159", "Hannover"}, {"90403", "Nürnberg"},
	{"28195", "Bremen"}, {"44135", "Dortmund"},
}

var mobilePrefixes = []string{"0151", "0152", "0157", "0160", "0162", "0170", "0171", "0172", "0176", "0177"}

// emailDomains are reserved example domains, so no generated address can reach anyone.
var emailDomains = []string{"example.com", "example.org", "example.net"}

// bloodTypes holds each blood type with its share, in per mille, in a central
// European population.
var bloodTypes = []struct {
	name   string
	weight int
}{
	{"A+", 370}, {"O+", 350}, {"B+", 90}, {"AB+", 40}, {"A-", 60}, {"O-", 60}, {"B-", 20}, {"AB-", 10},
}

var insuranceProviders = []string{"ABC", "DEF", "Nordstern Krankenkasse", "Vita Health", "Rhein BKK", "Medisure Private"}

// habits lists lifestyle entries; adultOnly ones are not drawn for minors.
var habits = []struct {
	name      string
	adultOnly bool
}{
	{"smoking", true}, {"drinking", true}, {"sedentary lifestyle", false}, {"regular exercise", false},
	{"vegetarian diet", false}, {"shift work", true}, {"high-salt diet", false},
}

var relatedDocs = []string{
	"discharge letter", "cardiology report", "lab results", "vaccination record",
	"radiology report", "referral letter", "allergy passport",
}
